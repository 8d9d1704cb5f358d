import { parseJsonNumber } from '@iii-streams/protocol'
import { type RedisProcess, startRedis } from '@iii-streams/test-utils'
import { Redis } from 'ioredis'
import { parse } from 'lossless-json'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { REDIS_CHANNEL } from '../adapters/redis.ts'
import { createStreamServer, type StreamServer } from '../index.ts'
import {
  connect,
  connectExtended,
  type Frame,
  set,
  startServer,
  withoutTimestamp,
} from './_harness.ts'
import { failure, runUpdateConformance } from './_update-conformance.ts'

let redis: RedisProcess
/** A plain Redis client of the test: it looks at what the servers wrote, as an engine would. */
let inspector: Redis

beforeAll(async () => {
  redis = await startRedis()
  inspector = new Redis(redis.url)
})
afterAll(async () => {
  inspector.disconnect()
  await redis.stop()
})
afterEach(async () => {
  await inspector.flushall()
})

const onRedis = (): Promise<StreamServer & { log: string[] }> =>
  startServer({ adapter: { type: 'redis', url: redis.url } })

const call = (server: StreamServer, function_id: string, payload: unknown) =>
  server.trigger({ function_id, payload })

/** Every message on the engine's channel, as its JSON text arrives. */
async function listen(): Promise<{ messages: string[]; stop: () => void }> {
  const subscriber = new Redis(redis.url)
  const messages: string[] = []
  subscriber.on('message', (_channel: string, text: string) => messages.push(text))
  await subscriber.subscribe(REDIS_CHANNEL)
  return { messages, stop: () => subscriber.disconnect() }
}

/** A new extended socket on `server` that joins chat/room-1 from `since`. */
async function resumeFrom(server: StreamServer, epoch: string, seq: number) {
  const client = await connectExtended(server)
  client.send({
    type: 'join',
    data: { subscriptionId: 's', streamName: 'chat', groupId: 'room-1', since: { epoch, seq } },
  })
  return client
}

async function until(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('the Redis adapter', () => {
  it('runs the 121 engine op vectors through stream::update, stored as the engine stores them', async () => {
    const server = await onRedis()
    const ran = await runUpdateConformance(server)
    console.log(`stream::update conformance through the Redis adapter: ${ran} cases`)
    // Every item is a field of the engine's hash, holding its JSON text.
    const stored = await inspector.hgetall('stream:conformance:g')
    for (const [itemId, text] of Object.entries(stored)) {
      expect(
        await call(server, 'stream::get', {
          stream_name: 'conformance',
          group_id: 'g',
          item_id: itemId,
        }),
      ).toEqual(parse(text, null, parseJsonNumber))
    }
    expect(Object.keys(stored).length).toBeGreaterThan(100)
  })

  it("writes the engine's hash and publishes the engine's wrapper on stream::events", async () => {
    const server = await onRedis()
    const channel = await listen()
    const item = { stream_name: 'chat', group_id: 'room-1', item_id: 'm1' }
    await call(server, 'stream::set', { ...item, data: { text: 'hi' } })
    await call(server, 'stream::update', {
      ...item,
      ops: [{ type: 'set', path: 'text', value: 'yo' }],
    })
    await call(server, 'stream::send', {
      stream_name: 'chat',
      group_id: 'room-1',
      type: 'typing',
      data: 1,
    })
    await call(server, 'stream::delete', item)
    expect(await inspector.hgetall('stream:chat:room-1')).toEqual({})
    await call(server, 'stream::set', { ...item, data: { text: 'back' } })
    expect(await inspector.hget('stream:chat:room-1', 'm1')).toBe('{"text":"back"}')
    await until(() => channel.messages.length === 5, 'five messages')
    channel.stop()
    const messages = channel.messages.map((text) => JSON.parse(text) as Frame)
    const epoch = server.epoch
    expect(messages.map(withoutTimestamp)).toEqual([
      {
        type: 'stream',
        streamName: 'chat',
        groupId: 'room-1',
        id: 'm1',
        event: { type: 'create', data: { text: 'hi' } },
        seq: 1,
        epoch,
      },
      {
        type: 'stream',
        streamName: 'chat',
        groupId: 'room-1',
        id: 'm1',
        event: { type: 'update', data: { text: 'yo' } },
        seq: 2,
        epoch,
        ops: [{ type: 'set', path: 'text', value: 'yo' }],
      },
      {
        type: 'stream',
        streamName: 'chat',
        groupId: 'room-1',
        id: null,
        event: { type: 'event', event: { type: 'typing', data: 1 } },
      },
      {
        type: 'stream',
        streamName: 'chat',
        groupId: 'room-1',
        id: 'm1',
        event: { type: 'delete', data: { text: 'yo' } },
        seq: 3,
        epoch,
      },
      {
        type: 'stream',
        streamName: 'chat',
        groupId: 'room-1',
        id: 'm1',
        event: { type: 'create', data: { text: 'back' } },
        seq: 4,
        epoch,
      },
    ])
    for (const message of messages) expect(Number.isInteger(message.timestamp)).toBe(true)
  })

  it('lists a group in creation order, however large (Redis hashes keep no order past 512 fields)', async () => {
    const server = await onRedis()
    const ids = Array.from({ length: 700 }, (_, index) => `item-${(index * 7919) % 1000}`)
    for (const [index, id] of ids.entries()) await set(server, 'big', 'g', id, index)
    // An overwrite keeps its place; a delete and a create move the item to the end.
    await set(server, 'big', 'g', ids[10] as string, 'again')
    await call(server, 'stream::delete', { stream_name: 'big', group_id: 'g', item_id: ids[0] })
    await set(server, 'big', 'g', ids[0] as string, 'back')
    // An item an engine wrote straight into the hash comes after the ones this server placed.
    await inspector.hset('stream:big:g', 'from-engine', '1')
    const expected = [...ids.slice(1), ids[0] as string]
    const values = (await call(server, 'stream::list', {
      stream_name: 'big',
      group_id: 'g',
    })) as unknown[]
    expect(values).toEqual([
      ...expected.map((id) =>
        id === ids[10] ? 'again' : id === ids[0] ? 'back' : ids.indexOf(id),
      ),
      1,
    ])
    // A sync carries the same order, with the ids.
    const client = await connectExtended(server)
    client.join('s', 'big', 'g')
    const sync = await client.nextOf('sync')
    expect(sync.event.ids).toEqual([...expected, 'from-engine'])
  })

  it('delivers each change once, through Redis only, on the writing instance and the others', async () => {
    const writer = await onRedis()
    const other = await onRedis()
    const clients = [await connect(writer), await connectExtended(writer), await connect(other)]
    for (const client of clients) {
      client.join('s', 'chat', 'room-1')
      await client.nextOf('sync')
    }
    await set(writer, 'chat', 'room-1', 'a', 1)
    await set(other, 'chat', 'room-1', 'b', 2)
    for (const client of clients) {
      expect((await client.drain()).map((frame) => [frame.id, frame.event.type])).toEqual([
        ['a', 'create'],
        ['b', 'create'],
      ])
    }
  })

  it('delivers a frame an engine published (no seq) to plain and extended sockets, and resumes past it with a sync', async () => {
    const server = await onRedis()
    const plain = await connect(server)
    const extended = await connectExtended(server)
    for (const client of [plain, extended]) {
      client.join('s', 'chat', 'room-1')
      await client.nextOf('sync')
    }
    await set(server, 'chat', 'room-1', 'a', 1)
    const seen = await extended.nextOf('create')
    await plain.nextOf('create')
    // What an iii engine on the same Redis sends, byte for byte (STREAM-PROTOCOL.md §6.2).
    const engineText =
      '{"type":"stream","timestamp":1766000000200,"streamName":"chat","groupId":"room-1","id":"msg-3","event":{"type":"create","data":{"text":"new"}}}'
    await inspector.hset('stream:chat:room-1', 'msg-3', '{"text":"new"}')
    await inspector.publish(REDIS_CHANNEL, engineText)
    expect(await plain.next()).toEqual(JSON.parse(engineText))
    expect(await extended.next()).toEqual(JSON.parse(engineText))
    // A client that was away since `seq` 1 cannot be replayed the engine's change: it gets a sync.
    // (The servers mark such a change in Redis as they receive it.)
    const mark = 'iii-streams:unsequenced:["chat","room-1"]'
    for (let tries = 0; (await inspector.get(mark)) === null; tries++) {
      if (tries > 100) throw new Error('the engine change was not marked')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    const back = await resumeFrom(server, server.epoch, seen.seq)
    const answer = await back.next()
    expect(answer.event.type).toBe('sync')
    expect(answer.event.data).toEqual(expect.arrayContaining([1, { text: 'new' }]))
  })

  it('lets the history of an idle group expire (a later resume gets a full sync); seq stays', async () => {
    const server = await onRedis()
    await set(server, 'chat', 'room-1', 'a', 1)
    const history = 'iii-streams:history:["chat","room-1"]'
    const ttl = await inspector.pttl(history)
    expect(ttl).toBeGreaterThan(23 * 3600 * 1000)
    expect(ttl).toBeLessThanOrEqual(24 * 3600 * 1000)
    expect(await inspector.pttl('iii-streams:seq:["chat","room-1"]')).toBe(-1)
    // Expired: the client that was at seq 0 cannot be replayed, so it gets a sync.
    await inspector.del(history)
    const back = await resumeFrom(server, server.epoch, 0)
    expect(await back.next()).toMatchObject({ seq: 1, event: { type: 'sync', data: [1] } })
  })

  it('resumes from the history that all instances share', async () => {
    const first = await onRedis()
    const second = await onRedis()
    expect(second.epoch).toBe(first.epoch)
    const client = await connectExtended(first)
    client.join('s', 'chat', 'room-1')
    const sync = await client.nextOf('sync')
    for (const [id, data] of [
      ['a', 1],
      ['b', 2],
      ['a', 3],
    ] as const) {
      await set(first, 'chat', 'room-1', id, data)
    }
    // It comes back to the other instance, from where it was.
    const back = await resumeFrom(second, first.epoch, sync.seq)
    const frames = [await back.next(), await back.next(), await back.next(), await back.next()]
    expect(frames.map((frame) => [frame.event.type, frame.id, frame.seq])).toEqual([
      ['create', 'a', 1],
      ['create', 'b', 2],
      ['update', 'a', 3],
      ['resumed', null, 3],
    ])
  })

  it('refuses to start, with a clear message, when Redis cannot be reached', async () => {
    const dead = 'redis://127.0.0.1:1'
    await expect(
      createStreamServer({ port: 0, adapter: { type: 'redis', url: dead }, logger: silent }),
    ).rejects.toThrow(/Cannot reach Redis at 127\.0\.0\.1:1/)
  })

  it('fails writes with the engine error codes and a clear message while Redis is down, and recovers', async () => {
    const own = await startRedis({ persistent: true })
    try {
      const server = await startServer({ adapter: { type: 'redis', url: own.url } })
      const item = { stream_name: 'chat', group_id: 'room-1', item_id: 'm1' }
      await call(server, 'stream::set', { ...item, data: 1 })
      await own.kill()
      const refused = await failure(call(server, 'stream::set', { ...item, data: 2 }))
      expect(refused.code).toBe('STREAM_SET_ERROR')
      expect(refused.message).toMatch(/Redis at 127\.0\.0\.1:\d+ is unavailable/)
      expect((await failure(call(server, 'stream::get', item))).code).toBe('STREAM_GET_ERROR')
      // A join gets an error frame (and may try again), not silence.
      const client = await connectExtended(server)
      client.join('s', 'chat', 'room-1')
      expect(await client.nextOf('error')).toMatchObject({
        code: 'sync_failed',
        subscriptionId: 's',
      })
      await own.restart()
      // Acknowledged before the crash, so still there; writes work again.
      let value: unknown
      const deadline = Date.now() + 5000
      while (Date.now() < deadline) {
        try {
          value = await call(server, 'stream::get', item)
          break
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }
      expect(value).toBe(1)
      expect(await call(server, 'stream::set', { ...item, data: 3 })).toEqual({
        old_value: 1,
        new_value: 3,
      })
    } finally {
      await own.stop()
    }
  })
})

const silent = { info() {}, warn() {}, error() {} }
