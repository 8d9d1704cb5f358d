import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { expect, type Page, test } from '@playwright/test'
import { SCRIPT_TAG } from './_helpers.ts'

/** The e2e stack's stream server. */
const STREAM_PORT = 4112

/**
 * A TCP relay to the stream server whose `silence()` makes the connections it carries go quiet
 * without closing them: what a socket looks like when the network dropped it while the tab was
 * away (no close, no error, nothing). Connections made later pass normally.
 */
async function startSilencingRelay(): Promise<{ port: number; silence(): void; close(): void }> {
  const live = new Set<{ silent: boolean; sockets: Socket[] }>()
  const relay: Server = createServer((inbound) => {
    const outbound = createConnection(STREAM_PORT, '127.0.0.1')
    const pair = { silent: false, sockets: [inbound, outbound] }
    live.add(pair)
    inbound.on('data', (data) => pair.silent || outbound.write(data))
    outbound.on('data', (data) => pair.silent || inbound.write(data))
    for (const socket of pair.sockets) {
      socket.on('error', () => {})
      socket.on('close', () => {
        if (pair.silent) return
        inbound.destroy()
        outbound.destroy()
      })
    }
  })
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
  return {
    port: (relay.address() as { port: number }).port,
    silence() {
      for (const pair of live) pair.silent = true
    },
    close() {
      for (const pair of live) for (const socket of pair.sockets) socket.destroy()
      relay.close()
    },
  }
}

/** Plays the tab going to the background or coming back (headless Chromium never hides a page). */
async function setVisibility(page: Page, state: 'hidden' | 'visible'): Promise<void> {
  await page.evaluate((value) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => value })
    document.dispatchEvent(new Event('visibilitychange'))
  }, state)
}

test('a socket that died silently while the tab was hidden is replaced soon after it comes back', async ({
  page,
}) => {
  const relay = await startSilencingRelay()
  try {
    await page.goto(`${SCRIPT_TAG}/?stream=ws://127.0.0.1:${relay.port}`)
    const status = page.getByTestId('status')
    await expect(status).toHaveText('open (iii-streams extensions)')
    await expect(page.getByTestId('item')).toHaveCount(3)
    // Every status the page shows, from now on.
    await page.evaluate(() => {
      const shown: string[] = []
      ;(window as unknown as { shown: string[] }).shown = shown
      const element = document.querySelector('[data-testid="status"]') as Element
      new MutationObserver(() => shown.push(element.textContent ?? '')).observe(element, {
        childList: true,
        characterData: true,
        subtree: true,
      })
    })
    const shown = () => page.evaluate(() => (window as unknown as { shown: string[] }).shown)
    await setVisibility(page, 'hidden')
    relay.silence()
    await page.waitForTimeout(2000)
    // The server's heartbeat comes every 15 s: the page cannot tell yet that its socket is dead.
    expect(await shown()).toEqual([])
    const back = Date.now()
    await setVisibility(page, 'visible')
    // Its ping goes unanswered: replaced 5 s later (the heartbeat alone took 2 × 15 s + 1 s).
    const reopened = async () => {
      const statuses = await shown()
      const lost = statuses.indexOf('reconnecting (iii-streams extensions)')
      return lost >= 0 && statuses.slice(lost).includes('open (iii-streams extensions)')
    }
    await expect.poll(reopened, { timeout: 9000 }).toBe(true)
    expect(Date.now() - back).toBeLessThan(9000)
    // Live again: the demo backend's updates reach the list.
    const first = await page.getByTestId('item').first().textContent()
    await expect(page.getByTestId('item').first()).not.toHaveText(first ?? '', { timeout: 5000 })
  } finally {
    relay.close()
  }
})
