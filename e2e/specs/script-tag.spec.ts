import { expect, test } from '@playwright/test'
import { docScreenshot, SCRIPT_TAG } from './_helpers.ts'

test('the script-tag page shows a live list through the IIFE bundle', async ({ page }, info) => {
  const consoleErrors: string[] = []
  page.on('console', (message) => message.type() === 'error' && consoleErrors.push(message.text()))
  await page.goto(`${SCRIPT_TAG}/?stream=ws://127.0.0.1:4112`)
  await expect(page.getByTestId('status')).toContainText('open')
  await expect(page.getByTestId('item')).toHaveCount(3)
  const first = await page.getByTestId('item').first().textContent()
  await expect(page.getByTestId('item').first()).not.toHaveText(first ?? '', { timeout: 5000 })
  // (A missing favicon had logged a 404 on every load.)
  expect(consoleErrors).toEqual([])
  await docScreenshot(page, 'script-tag', info)
})
