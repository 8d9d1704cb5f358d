import { expect, test } from '@playwright/test'
import { CONTROL, docScreenshot, messageTexts, openChat, roomFor, send } from './_helpers.ts'

test('two tabs converge on the same messages in the same order', async ({ browser }, info) => {
  const room = roomFor(info.title)
  const alice = await browser.newPage()
  const bob = await browser.newPage()
  await openChat(alice, 'alice', room)
  await openChat(bob, 'bob', room)
  await send(alice, 'one from alice')
  await send(bob, 'two from bob')
  await send(alice, 'three from alice')
  await send(bob, 'four from bob')
  const expected = ['one from alice', 'two from bob', 'three from alice', 'four from bob']
  for (const page of [alice, bob]) {
    await expect(page.getByTestId('message-text')).toHaveText(expected)
    await expect(page.locator('[data-testid="message"][data-pending="true"]')).toHaveCount(0)
  }
  await docScreenshot(alice, 'chat', info)
})

test('presence appears, and disappears when a tab closes', async ({ browser }, info) => {
  const room = roomFor(info.title)
  const alice = await browser.newPage()
  await openChat(alice, 'alice', room)
  await expect(alice.getByTestId('presence-user')).toHaveText(['alice'])
  const bob = await browser.newPage()
  await openChat(bob, 'bob', room)
  await expect(alice.getByTestId('presence-user')).toContainText(['bob'])
  await bob.close()
  await expect(alice.getByTestId('presence-user')).toHaveText(['alice'])
})

test('shows who is typing', async ({ browser }, info) => {
  const room = roomFor(info.title)
  const alice = await browser.newPage()
  const bob = await browser.newPage()
  await openChat(alice, 'alice', room)
  await openChat(bob, 'bob', room)
  await bob.getByTestId('composer').pressSequentially('hel', { delay: 50 })
  await expect(alice.getByTestId('typing')).toContainText('bob')
})

test('an optimistic send shows at once and is rolled back with an error when it fails', async ({
  page,
}, info) => {
  const room = roomFor(info.title)
  await openChat(page, 'alice', room)
  await send(page, 'kept')
  await expect(page.getByTestId('message-text')).toHaveText(['kept'])
  await send(page, 'this one will fail #fail')
  await expect(page.getByTestId('send-error')).toBeVisible()
  await expect(page.getByTestId('message-text')).toHaveText(['kept'])
})

test('a room that refuses the join says so', async ({ page }, info) => {
  await openChat(page, 'alice', `private-${roomFor(info.title)}`)
  await expect(page.getByTestId('unauthorized')).toBeVisible()
})

test('every tab reconnects and converges after the server is killed and restarted', async ({
  browser,
  request,
}, info) => {
  const room = roomFor(info.title)
  const alice = await browser.newPage()
  const bob = await browser.newPage()
  await openChat(alice, 'alice', room)
  await openChat(bob, 'bob', room)
  await send(alice, 'before the crash')
  await expect(bob.getByTestId('message-text')).toHaveText(['before the crash'])
  expect((await request.post(`${CONTROL}/restart`)).ok()).toBe(true)
  for (const page of [alice, bob]) {
    await expect(page.getByTestId('connection')).toHaveAttribute('data-status', 'open', {
      timeout: 20_000,
    })
  }
  await send(bob, 'after the restart')
  await send(alice, 'and once more')
  const expected = ['before the crash', 'after the restart', 'and once more']
  for (const page of [alice, bob]) {
    await expect(page.getByTestId('message-text')).toHaveText(expected, { timeout: 20_000 })
  }
  expect(new Set(await messageTexts(alice)).size).toBe(3)
})
