import type { Page, TestInfo } from '@playwright/test'

export const CHAT = 'http://127.0.0.1:4174'
export const DASHBOARD = 'http://127.0.0.1:4173'
export const SCRIPT_TAG = 'http://127.0.0.1:4175'
export const CONTROL = 'http://127.0.0.1:4199'

/** A room named after the test, unique per run. */
export function roomFor(title: string): string {
  return `${title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 40)}-${Date.now().toString(36)}`
}

export async function openChat(page: Page, user: string, room: string): Promise<void> {
  await page.goto(`${CHAT}/?user=${user}&room=${room}`)
  await page.locator('[data-testid="connection"][data-status="open"]').waitFor()
}

export async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId('composer').fill(text)
  await page.getByTestId('send').click()
}

export async function messageTexts(page: Page): Promise<string[]> {
  return page.getByTestId('message-text').allTextContents()
}

/**
 * The README's screenshot of a page: written to `docs/screenshots/` only with
 * `UPDATE_SCREENSHOTS=1`, so that a test run leaves the checkout as it was; otherwise kept with the
 * test's results.
 */
export async function docScreenshot(page: Page, name: string, info: TestInfo): Promise<void> {
  const path =
    process.env.UPDATE_SCREENSHOTS === '1'
      ? `../docs/screenshots/${name}.png`
      : info.outputPath(`${name}.png`)
  await page.screenshot({ path })
}
