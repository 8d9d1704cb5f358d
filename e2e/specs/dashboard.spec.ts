import { expect, test } from '@playwright/test'
import { DASHBOARD, docScreenshot } from './_helpers.ts'

/** The server's recent values of one metric, read through its own stream port from the page. */
async function serverValues(page: import('@playwright/test').Page, id: string): Promise<number[]> {
  return page.evaluate(
    (metric) =>
      new Promise<number[]>((resolve) => {
        const seen: number[] = []
        const socket = new WebSocket('ws://127.0.0.1:4112/')
        socket.onopen = () =>
          socket.send(
            JSON.stringify({
              type: 'join',
              data: { subscriptionId: 'probe', streamName: 'metrics', groupId: 'live', id: metric },
            }),
          )
        socket.onmessage = (message) => {
          const frame = JSON.parse(message.data)
          if (frame.event?.data?.value !== undefined) seen.push(frame.event.data.value)
        }
        setTimeout(() => {
          socket.close()
          resolve(seen)
        }, 1500)
      }),
    id,
  )
}

test("the dashboard's numbers and charts move and match the server", async ({ page }, info) => {
  const consoleErrors: string[] = []
  page.on('console', (message) => message.type() === 'error' && consoleErrors.push(message.text()))
  await page.goto(DASHBOARD)
  await expect(page.getByTestId('connection')).toContainText('open')
  const value = page.getByTestId('value-cpu')
  await expect(value).toHaveText(/\d/)
  const first = await value.textContent()
  await expect(value).not.toHaveText(first ?? '', { timeout: 5000 })
  await expect(page.getByTestId('chart-cpu')).toBeVisible()
  // What the page shows is one of the values the server sent over the same moment.
  const [shown, server] = await Promise.all([
    (async () => {
      await page.waitForTimeout(700)
      return Number((await value.textContent())?.replace(/[^\d.]/g, ''))
    })(),
    serverValues(page, 'cpu'),
  ])
  expect(server.map((v) => Math.round(v * 10) / 10)).toContain(shown)
  // (A missing favicon had logged a 404 on every load.)
  expect(consoleErrors).toEqual([])
  await docScreenshot(page, 'dashboard', info)
})
