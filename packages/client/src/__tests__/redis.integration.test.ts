import { isDeepStrictEqual } from 'node:util'
import type { StreamServer } from '@iii-streams/server'
import { type RedisProcess, startRedis } from '@iii-streams/test-utils'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import type { GroupSnapshot, Readable, StreamClient } from '../index.ts'
import {
  countJoins,
  hold,
  remove,
  set,
  startClient,
  startServer,
  until,
  update,
} from './_harness.ts'

/**
 * Several stream servers on one real Redis, each with clients of its own, written to at once from
 * every instance: every cache must end equal to what Redis holds.
 */

const redisProcesses: RedisProcess[] = []
afterEach(async () => {
  for (const redis of redisProcesses.splice(0)) await redis.stop()
})

async function redisFor(test: { persistent?: boolean } = {}): Promise<RedisProcess> {
  const redis = await startRedis(test)
  redisProcesses.push(redis)
  return redis
}

interface Item {
  readonly id: string
  readonly n?: number
}

/** A seeded generator, so a failing run can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

const byId = (items: readonly unknown[]): unknown[] =>
  [...items].sort((a, b) => ((a as Item).id < (b as Item).id ? -1 : 1))

const GROUPS = ['a', 'b'] as const

/** What a client holds of each group, once it equals the server's `stream::list`. */
async function converged(
  server: StreamServer,
  stores: readonly Readable<GroupSnapshot<Item>>[],
): Promise<void> {
  for (const [index, group] of GROUPS.entries()) {
    const expected = byId(
      (await server.trigger({
        function_id: 'stream::list',
        payload: { stream_name: 'multi', group_id: group },
      })) as unknown[],
    )
    await until(
      stores[index] as Readable<GroupSnapshot<Item>>,
      (s) => s.status === 'ready' && isDeepStrictEqual(byId(s.items), expected),
      15_000,
    )
  }
}

function subscribeAll(client: StreamClient): Readable<GroupSnapshot<Item>>[] {
  const stores = GROUPS.map((group) => client.group<Item>('multi', group))
  for (const store of stores) hold(store)
  return stores
}

/** Two instances on `redis` (the second plain), a client on each holding both groups, synced. */
async function twoInstances(redis: RedisProcess) {
  const servers = [
    await startServer({ adapter: { type: 'redis', url: redis.url } }),
    await startServer({ adapter: { type: 'redis', url: redis.url }, extensions: false }),
  ]
  const clients = servers.map((server) => startClient(server.url))
  const stores = clients.map(subscribeAll)
  const states = clients.map((client) => hold(client.connection))
  for (const store of stores.flat()) await until(store, (s) => s.status === 'ready')
  return { servers, clients, stores, states }
}

describe.each([
  { instances: 2, seed: 21 },
  { instances: 3, seed: 22 },
])('$instances server instances on one Redis', ({ instances, seed }) => {
  it('converge under concurrent writers, with clients of both modes on each', async () => {
    const redis = await redisFor()
    const servers: StreamServer[] = []
    for (let index = 0; index < instances; index++) {
      // The second instance serves plain-engine connections, the others extended ones.
      servers.push(
        await startServer({ adapter: { type: 'redis', url: redis.url }, extensions: index !== 1 }),
      )
    }
    const clients = servers.map((server) => startClient(server.url))
    const stores = clients.map(subscribeAll)
    for (const store of stores.flat()) await until(store, (s) => s.status === 'ready')

    const STEPS = 60
    // Every instance writes at once: sets, deletes, sends, and increments of one shared counter.
    await Promise.all(
      servers.map(async (server, writer) => {
        const next = random(seed * 10 + writer)
        for (let step = 0; step < STEPS; step++) {
          const group = GROUPS[Math.floor(next() * GROUPS.length)] as string
          const id = `i${Math.floor(next() * 5)}`
          const roll = next()
          await update(server, 'multi', 'a', 'counter', [
            { type: 'set', path: 'id', value: 'counter' },
            { type: 'increment', path: 'n', by: 1 },
          ])
          if (roll < 0.5) await set(server, 'multi', group, id, { id, n: step, by: writer })
          else if (roll < 0.8) await remove(server, 'multi', group, id)
          else
            await server.trigger({
              function_id: 'stream::send',
              payload: { stream_name: 'multi', group_id: group, type: 'noise', data: step },
            })
        }
      }),
    )
    // stream::update is atomic across instances: no increment is lost.
    const counter = await servers[0]?.trigger({
      function_id: 'stream::get',
      payload: { stream_name: 'multi', group_id: 'a', item_id: 'counter' },
    })
    expect(counter).toEqual({ id: 'counter', n: instances * STEPS })
    for (const [index, client] of clients.entries()) {
      await converged(servers[(index + 1) % instances] as StreamServer, stores[index] ?? [])
      expect(client.badFrames).toBe(0)
      expect(client.connection.get()).toMatchObject({ status: 'open', extensions: index !== 1 })
    }
  })
})

describe('a client given the URLs of every instance', () => {
  it('moves to another instance when its own stops, and catches up there', async () => {
    const redis = await redisFor()
    const servers = [
      await startServer({ adapter: { type: 'redis', url: redis.url } }),
      await startServer({ adapter: { type: 'redis', url: redis.url } }),
    ]
    const counts = servers.map(countJoins)
    const client = startClient(servers.map((server) => server.url))
    const [room] = subscribeAll(client) as [Readable<GroupSnapshot<Item>>]
    await until(room, (s) => s.status === 'ready')
    await set(servers[0] as StreamServer, 'multi', 'a', 'before', { id: 'before' })
    await until(room, (s) => s.items.length === 1)
    // Whichever instance it picked first goes away; the other takes over.
    const first = counts.findIndex((count) => count.joins.length > 0)
    expect(first).toBeGreaterThanOrEqual(0)
    const other = servers[1 - first] as StreamServer
    await servers[first]?.close()
    await set(other, 'multi', 'a', 'after', { id: 'after' })
    const snapshot = await until(room, (s) => s.items.length === 2, 10_000)
    expect(byId(snapshot.items)).toEqual([{ id: 'after' }, { id: 'before' }])
    expect(client.connection.get().status).toBe('open')
    expect(counts[1 - first]?.joins.length).toBeGreaterThan(0)
  })

  it('refuses an empty list', () => {
    expect(() => startClient([])).toThrow(/url: give the stream port/)
  })
})

describe('Redis faults', () => {
  it('Redis killed and restarted mid-stream: nothing acknowledged is lost, every client catches up', async () => {
    const redis = await redisFor({ persistent: true })
    const { servers, clients, stores, states } = await twoInstances(redis)
    const acknowledged = new Map<string, number>()
    let refused = 0
    const writes = (async () => {
      for (let step = 0; step < 120; step++) {
        const id = `i${step % 7}`
        const server = servers[step % 2] as StreamServer
        try {
          await set(server, 'multi', 'a', id, { id, n: step })
          acknowledged.set(id, step)
        } catch (error) {
          refused++
          expect(String((error as Error).message)).toMatch(/Redis at .* is unavailable/)
        }
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    })()
    await new Promise((resolve) => setTimeout(resolve, 150))
    await redis.kill('SIGKILL')
    await new Promise((resolve) => setTimeout(resolve, 200))
    await redis.restart()
    await writes
    // The last write of each item that Redis acknowledged is what it holds now.
    for (const server of servers) {
      const held = (await server.trigger({
        function_id: 'stream::list',
        payload: { stream_name: 'multi', group_id: 'a' },
      })) as Item[]
      expect(new Map(held.map((item) => [item.id, item.n]))).toEqual(acknowledged)
    }
    console.log(`Redis restart: ${refused} writes refused while it was down, the rest acknowledged`)
    expect(refused).toBeGreaterThan(0)
    for (const [index, client] of clients.entries()) {
      await converged(servers[index] as StreamServer, stores[index] ?? [])
      expect(client.badFrames).toBe(0)
      // Its server could not know what it missed: it told the client to resync.
      expect(states[index]?.some((state) => state.status === 'reconnecting')).toBe(true)
    }
  })

  it('changes missed while the subscriptions to Redis were cut reach every client once they are back', async () => {
    const redis = await redisFor()
    const { servers, clients, stores, states } = await twoInstances(redis)
    await set(servers[0] as StreamServer, 'multi', 'a', 'i0', { id: 'i0', n: 0 })
    // Every subscriber connection is cut (writes still go through): what is published before they
    // are back is lost to them.
    const admin = new Redis(redis.url)
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
    admin.disconnect()
    for (let step = 1; step <= 5; step++) {
      await set(servers[step % 2] as StreamServer, 'multi', 'a', `i${step}`, {
        id: `i${step}`,
        n: step,
      })
    }
    for (const [index, client] of clients.entries()) {
      await converged(servers[index] as StreamServer, stores[index] ?? [])
      expect(client.badFrames).toBe(0)
      // The server told the client to resync (it reconnected and resumed or synced again).
      expect(states[index]?.some((state) => state.status === 'reconnecting')).toBe(true)
    }
  })

  it('a Redis that lost its data: a new epoch, and every client resyncs to what is there now', async () => {
    const redis = await redisFor({ persistent: false })
    const servers = [
      await startServer({ adapter: { type: 'redis', url: redis.url } }),
      await startServer({ adapter: { type: 'redis', url: redis.url } }),
    ]
    const before = servers[0]?.epoch
    const clients = servers.map((server) => startClient(server.url))
    const stores = clients.map(subscribeAll)
    for (const id of ['x', 'y', 'z'])
      await set(servers[0] as StreamServer, 'multi', 'a', id, { id })
    for (const store of stores.map((each) => each[0]) as Readable<GroupSnapshot<Item>>[])
      await until(store, (s) => s.items.length === 3)
    await redis.restart() // empty: nothing persisted
    // Writes after the loss: the servers notice the lost epoch and clients resync.
    const deadline = Date.now() + 10_000
    for (;;) {
      try {
        await set(servers[1] as StreamServer, 'multi', 'a', 'after', { id: 'after' })
        break
      } catch (error) {
        if (Date.now() > deadline) throw error
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    for (const server of servers) await expect.poll(() => server.epoch).not.toBe(before)
    expect(servers[1]?.epoch).toBe(servers[0]?.epoch)
    for (const [index] of clients.entries()) {
      const store = stores[index]?.[0] as Readable<GroupSnapshot<Item>>
      await until(
        store,
        (s) => s.status === 'ready' && isDeepStrictEqual(s.items, [{ id: 'after' }]),
        15_000,
      )
    }
  })
})
