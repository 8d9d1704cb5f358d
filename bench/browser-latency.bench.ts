/**
 * Latency from `stream::set` on the server to the change visible in a page's DOM in Chromium, at
 * 100 updates per second: p50 and p99. The page loads the client's script-tag bundle and renders
 * one item's value; a MutationObserver stamps each change with the wall clock the server used.
 * Needs the bundle (`pnpm --filter @iii-streams/client build`) and Chromium (Debian's where present).
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { createStreamServer, silentLogger } from '@iii-streams/server'
import { chromium } from 'playwright-core'

const BUNDLE = resolve(import.meta.dirname, '../packages/client/dist/iii-streams.iife.js')
const RATE = 100
const SECONDS = 5
if (!existsSync(BUNDLE))
  throw new Error('Build the client first: pnpm --filter @iii-streams/client build')

// The page is about:blank (Origin: null), which the default origin rule refuses.
const server = await createStreamServer({ port: 0, logger: silentLogger, allowedOrigins: ['*'] })
await server.trigger({
  function_id: 'stream::set',
  payload: {
    stream_name: 'bench',
    group_id: 'g',
    item_id: 'x',
    data: { n: -1, sentAt: Date.now() },
  },
})
const browser = await chromium.launch({
  ...(existsSync('/usr/bin/chromium') ? { executablePath: '/usr/bin/chromium' } : {}),
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
})
const page = await browser.newPage()
page.on('pageerror', (e) => console.log('page error:', e.message))
await page.setContent('<p id="value">-</p>')
await page.addScriptTag({ path: BUNDLE })
await page.evaluate((url) => {
  const target = document.getElementById('value') as HTMLElement
  const seen: number[] = []
  ;(window as unknown as { latencies: number[] }).latencies = seen
  new MutationObserver(() => {
    const sentAt = Number(target.dataset.sentAt)
    if (sentAt > 0) seen.push(Date.now() - sentAt)
  }).observe(target, { childList: true, characterData: true, subtree: true })
  const client = (
    window as unknown as { IIIStreams: typeof import('@iii-streams/client') }
  ).IIIStreams.createStreamClient({ url })
  client.item<{ n: number; sentAt: number }>('bench', 'g', 'x').subscribe(({ data }) => {
    if (!data) return
    target.dataset.sentAt = String(data.sentAt)
    target.textContent = String(data.n)
  })
}, server.url)
await page.waitForFunction(() => document.getElementById('value')?.textContent === '-1')

const start = performance.now()
for (let n = 0; n < RATE * SECONDS; n++) {
  const due = start + (n * 1000) / RATE
  const wait = due - performance.now()
  if (wait > 0) await new Promise((r) => setTimeout(r, wait))
  await server.trigger({
    function_id: 'stream::set',
    payload: { stream_name: 'bench', group_id: 'g', item_id: 'x', data: { n, sentAt: Date.now() } },
  })
}
await page.waitForFunction(
  (last) => document.getElementById('value')?.textContent === String(last),
  RATE * SECONDS - 1,
)
const latencies = (
  await page.evaluate(() => (window as unknown as { latencies: number[] }).latencies)
).sort((a, b) => a - b)
const at = (q: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]
console.log(
  `stream::set → DOM in Chromium at ${RATE} updates/s for ${SECONDS} s (${latencies.length} DOM changes):`,
)
console.log(`  p50 ${at(0.5)} ms   p99 ${at(0.99)} ms   max ${latencies.at(-1)} ms`)
console.log('  (bursts coalesce into one render: DOM changes can be fewer than updates)')
await browser.close()
await server.close()
