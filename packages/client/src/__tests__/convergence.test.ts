import { isDeepStrictEqual } from 'node:util'
import { describe, expect, it } from 'vitest'
import {
  countJoins,
  hold,
  remove,
  set,
  startClient,
  startRelay,
  startServer,
  until,
  update,
} from './_harness.ts'

/** A small seeded generator, so a failing run can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

describe.each([
  { mode: 'extended', extensions: true, seed: 7 },
  { mode: 'extended', extensions: true, seed: 8 },
  { mode: 'plain engine', extensions: false, seed: 11 },
  { mode: 'plain engine', extensions: false, seed: 12 },
])('convergence against a $mode server (seed $seed)', ({ extensions, seed }) => {
  it('ends with every cache equal to the server, through random writes and cut connections', async () => {
    const server = await startServer({ extensions })
    const counts = countJoins(server)
    const relay = await startRelay(server.port)
    const client = startClient(`ws://127.0.0.1:${relay.port}`)
    const groups = ['a', 'b', 'c']
    const stores = groups.map((group) => client.group<{ id: string }>('conv', group))
    // Group d is never held as a group: its item has a join of its own.
    const lone = client.item('conv', 'd', 'i1')
    hold(lone)
    for (const store of stores) hold(store)
    const item = client.item('conv', 'a', 'i1')
    hold(item)
    const states = hold(client.connection)
    const next = random(seed)
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T
    let cuts = 0
    for (let step = 0; step < 400; step++) {
      const group = pick([...groups, 'd'])
      const id = `i${Math.floor(next() * 6)}`
      const roll = next()
      if (roll < 0.35) await set(server, 'conv', group, id, { id, n: step, tags: [] })
      else if (roll < 0.7)
        await update(server, 'conv', group, id, [
          { type: 'set', path: 'id', value: id },
          { type: 'increment', path: 'n', by: 1 },
          { type: 'append', path: 'log', value: step },
        ])
      else if (roll < 0.85) await remove(server, 'conv', group, id)
      else
        await server.trigger({
          function_id: 'stream::send',
          payload: { stream_name: 'conv', group_id: group, type: 'noise', data: step },
        })
      // Four cuts at random points, each of a connection whose subscriptions the server has joined
      // again since the previous cut (quick cuts of one flapping link raise the backoff, as they should).
      if (cuts < 4 && step >= 40 + cuts * 90 + Math.floor(next() * 20)) {
        const target = 4 * (cuts + 1)
        await expect
          .poll(() => counts.joins.length, { timeout: 15_000, interval: 10 })
          .toBeGreaterThanOrEqual(target)
        relay.cut()
        cuts++
      }
      // Let frames, reconnects (250 ms backoff at most on a first retry) and resyncs interleave.
      if (step % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 10 + next() * 30))
    }
    expect(cuts).toBe(4)
    for (const [index, group] of groups.entries()) {
      const expected = await server.trigger({
        function_id: 'stream::list',
        payload: { stream_name: 'conv', group_id: group },
      })
      await until(
        stores[index]!,
        (s) => s.status === 'ready' && isDeepStrictEqual(s.items, expected),
        15_000,
      )
    }
    const expectedItem =
      (await server.trigger({
        function_id: 'stream::get',
        payload: { stream_name: 'conv', group_id: 'a', item_id: 'i1' },
      })) ?? null
    await until(
      item,
      (s) => s.status === 'ready' && isDeepStrictEqual(s.data, expectedItem),
      15_000,
    )
    expect(client.connection.get()).toMatchObject({ status: 'open', extensions })
    expect(states.filter((state) => state.status === 'reconnecting').length).toBeGreaterThanOrEqual(
      4,
    )
    expect(client.badFrames).toBe(0)
    // Rejoins come from cuts (5 subscriptions each) and real gaps, never from a loop.
    console.log(`convergence: ${cuts} cuts, ${counts.joins.length} joins`)
    expect(counts.joins.length).toBeGreaterThanOrEqual(4 * (cuts + 1))
    expect(counts.joins.length).toBeLessThan(4 * (cuts + 1) + 40)
  })
})

describe('a restarted server', () => {
  it('is reconnected to and resynced, with only real differences published', async () => {
    const server = await startServer()
    const port = server.port
    await set(server, 'chat', 'room', 'keep', { id: 'keep', nested: { a: 1 } })
    await set(server, 'chat', 'room', 'gone', { id: 'gone' })
    const client = startClient(server.url)
    const room = client.group<{ id: string; nested?: { a: number } }>('chat', 'room')
    hold(room)
    const before = await until(room, (s) => s.items.length === 2)
    await server.close()
    await until(client.connection, (c) => c.status === 'reconnecting')
    // A new life on the same port (memory: a new epoch), with one item gone and one added.
    const again = await startServer({ port })
    await set(again, 'chat', 'room', 'keep', { id: 'keep', nested: { a: 1 } })
    await set(again, 'chat', 'room', 'new', { id: 'new' })
    const after = await until(room, (s) => s.items.length === 2 && s.byId.has('new'), 15_000)
    expect(after.items[0]).toBe(before.items[0])
    expect(client.connection.get().status).toBe('open')
  })
})
