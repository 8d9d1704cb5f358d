import { describe, expect, it } from 'vitest'
import { createMemoryAdapter, type StreamAdapter } from '../index.ts'
import {
  connect,
  connectExtended,
  type Frame,
  set,
  startServer,
  withoutTimestamp,
} from './_harness.ts'

const update = (server: Awaited<ReturnType<typeof startServer>>, item: string, ops: unknown[]) =>
  server.trigger({
    function_id: 'stream::update',
    payload: { stream_name: 'chat', group_id: 'room-1', item_id: item, ops },
  })

/** A memory adapter whose reads of group `gated` wait for `open()`; `reading` settles once `readers` wait. */
function gatedAdapter(readers = 1): {
  adapter: StreamAdapter
  open: () => void
  reading: Promise<void>
} {
  const inner = createMemoryAdapter()
  let open: () => void = () => {}
  let started: () => void = () => {}
  const gate = new Promise<void>((resolve) => {
    open = resolve
  })
  const reading = new Promise<void>((resolve) => {
    started = resolve
  })
  const adapter: StreamAdapter = {
    ...inner,
    epoch: inner.epoch,
    async list(ref) {
      if (ref.group === 'gated') {
        if (--readers === 0) started()
        await gate
      }
      return inner.list(ref)
    },
  }
  return { adapter, open, reading }
}

describe('negotiation (EXTENSIONS.md §1)', () => {
  it('sends hello first to a socket that asks, and nothing extra to one that does not', async () => {
    const server = await startServer({ heartbeatMs: 5000 })
    const extended = await connectExtended(server)
    expect(extended.hello).toEqual({
      type: 'hello',
      version: 1,
      epoch: server.epoch,
      heartbeatMs: 5000,
      limits: { maxFrameBytes: 1048576, maxSubscriptions: 1000 },
    })
    const plain = await connect(server)
    plain.join('s', 'chat', 'room-1')
    expect(withoutTimestamp(await plain.next())).toEqual({
      type: 'stream',
      streamName: 'chat',
      groupId: 'room-1',
      id: null,
      event: { type: 'sync', data: [] },
    })
  })

  it('behaves as a plain engine with extensions: false, even when asked', async () => {
    const server = await startServer({ extensions: false })
    const client = await connect(server, '/?iii-streams=1')
    client.join('s', 'chat', 'room-1')
    const sync = await client.next()
    expect(sync.type).toBe('stream')
    expect(sync).not.toHaveProperty('seq')
  })
})

describe('ids, seq and epoch (§2, §3)', () => {
  it('puts ids, seq, epoch and subscriptionId on syncs, and a seq on every change', async () => {
    const server = await startServer()
    await set(server, 'chat', 'room-1', 'm1', { text: 'a' })
    await set(server, 'chat', 'room-1', 'm2', { text: 'b' })
    const client = await connectExtended(server)
    client.join('s1', 'chat', 'room-1')
    expect(withoutTimestamp(await client.next())).toEqual({
      type: 'stream',
      streamName: 'chat',
      groupId: 'room-1',
      id: null,
      event: { type: 'sync', data: [{ text: 'a' }, { text: 'b' }], ids: ['m1', 'm2'] },
      seq: 2,
      epoch: server.epoch,
      subscriptionId: 's1',
    })
    client.join('s2', 'chat', 'room-1', 'm2')
    expect(await client.next()).toMatchObject({
      id: 'm2',
      event: { type: 'sync', data: { text: 'b' } },
      seq: 2,
      subscriptionId: 's2',
    })
    await server.trigger({
      function_id: 'stream::delete',
      payload: { stream_name: 'chat', group_id: 'room-1', item_id: 'm2' },
    })
    await server.trigger({
      function_id: 'stream::send',
      payload: { stream_name: 'chat', group_id: 'room-1', type: 'typing', data: 1 },
    })
    const frames = await client.drain()
    // One copy per connection, although two subscriptions match the delete; sends carry no seq.
    expect(frames.map((f) => [f.event.type, f.seq])).toEqual([
      ['delete', 3],
      ['event', undefined],
    ])
  })

  it('emits the changes of a group in seq order under concurrent writers', async () => {
    const server = await startServer()
    const client = await connectExtended(server)
    client.join('s', 'chat', 'room-1')
    await client.next()
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => set(server, 'chat', 'room-1', `m${i % 7}`, i)),
    )
    const seqs = (await client.drain()).map((f) => f.seq)
    expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1))
  })

  it('holds the changes that race a join until its sync is out, and drops those the sync holds', async () => {
    const { adapter, open, reading } = gatedAdapter(2)
    const server = await startServer({ adapter: { type: 'custom', adapter } })
    const extended = await connectExtended(server)
    const plain = await connect(server)
    extended.join('s', 'chat', 'gated')
    plain.join('s', 'chat', 'gated')
    await reading
    await set(server, 'chat', 'gated', 'x', 1)
    open()
    // The engine (§2.6) may send such a change before the sync; here both sockets get the sync
    // alone, as it already holds the change (over Redis, a late copy would be older than it).
    expect(await extended.next()).toMatchObject({ seq: 1, event: { type: 'sync', data: [1] } })
    expect(await plain.next()).toMatchObject({ event: { type: 'sync', data: [1] } })
    await set(server, 'chat', 'gated', 'y', 2)
    expect((await extended.drain()).map((f) => [f.event.type, f.seq])).toEqual([['create', 2]])
    expect((await plain.drain()).map((f) => [f.event.type, f.event.data])).toEqual([['create', 2]])
  })
})

describe('patch frames (§4)', () => {
  it('sends the ops of an update when they are smaller than the value, else the value', async () => {
    const server = await startServer()
    const big = { text: 'x'.repeat(200), n: 1 }
    await set(server, 'chat', 'room-1', 'm1', big)
    const extended = await connectExtended(server)
    const plain = await connect(server)
    for (const client of [extended, plain]) {
      client.join('s', 'chat', 'room-1')
      await client.nextOf('sync')
    }
    const ops = [{ type: 'increment', path: 'n', by: 1 }]
    await update(server, 'm1', ops)
    await update(server, 'm1', [{ type: 'set', path: 'text', value: 'y'.repeat(300) }])
    await update(server, 'new', [{ type: 'set', path: 'a', value: 1 }])
    expect(
      (await extended.drain()).map((f) => [f.event.type, f.event.ops ?? f.event.data, f.seq]),
    ).toEqual([
      ['patch', ops, 2],
      ['update', { text: 'y'.repeat(300), n: 2 }, 3],
      ['create', { a: 1 }, 4],
    ])
    expect((await plain.drain()).map((f) => f.event.type)).toEqual(['update', 'update', 'create'])
  })
})

describe('liveness (§5)', () => {
  it('answers ping with pong', async () => {
    const server = await startServer()
    const client = await connectExtended(server)
    client.send({ type: 'ping' })
    const pong = await client.next()
    expect(pong.type).toBe('pong')
    expect(Number.isInteger(pong.timestamp)).toBe(true)
  })

  it('sends heartbeat pings and closes a socket that answers no WebSocket ping', async () => {
    const server = await startServer({ heartbeatMs: 100 })
    const alive = await connectExtended(server)
    const dead = await connect(server, '/?iii-streams=1', { autoPong: false })
    expect((await alive.nextOf('ping')).type).toBe('ping')
    const closed = await dead.closed(2000)
    expect(closed.code).toBe(1006)
    expect(alive.closeEvent).toBeUndefined()
  })
})

describe('error frames (§6)', () => {
  it('answers refused frames with a code, a sentence and the subscriptionId', async () => {
    const server = await startServer({ maxSubscriptions: 2 })
    const client = await connectExtended(server)
    client.send('not json')
    client.send({ type: 'join', data: { subscriptionId: 's0', streamName: 'chat' } })
    client.send({ type: 'join', data: { subscriptionId: 's1', streamName: '', groupId: 'g' } })
    client.send({
      type: 'join',
      data: { subscriptionId: 's2', streamName: 'chat', groupId: 'g'.repeat(257) },
    })
    client.join('a', 'chat', 'g1')
    client.join('b', 'chat', 'g2')
    client.join('c', 'chat', 'g3')
    client.join('a', 'chat', 'g4')
    const frames: Frame[] = []
    for (let i = 0; i < 8; i++) frames.push(await client.next())
    expect(
      frames.map((f) =>
        f.type === 'error'
          ? `${f.code}:${f.subscriptionId}`
          : `${f.event.type}:${f.subscriptionId}`,
      ),
    ).toEqual([
      'bad_frame:undefined',
      'bad_frame:s0',
      'invalid_name:s1',
      'invalid_name:s2',
      'sync:a',
      'sync:b',
      'too_many_subscriptions:c',
      'sync:a',
    ])
    for (const frame of frames.filter((f) => f.type === 'error')) {
      expect(frame.message).toMatch(/^\S.{8,}\.$/)
      expect(frame.message).not.toMatch(/\bat .*:\d+|\/work\/|node_modules/)
    }
  })

  it('answers a rejected join with unauthorized carrying its subscriptionId', async () => {
    const server = await startServer()
    server.registerFunction('deny', async () => ({ unauthorized: true }))
    server.registerTrigger({ type: 'stream:join', function_id: 'deny', config: {} })
    const client = await connectExtended(server)
    client.join('s', 'chat', 'room-1')
    expect(await client.next()).toMatchObject({
      event: { type: 'unauthorized' },
      subscriptionId: 's',
    })
  })

  it('answers sync_failed when the store cannot be read, and keeps the subscription', async () => {
    const inner = createMemoryAdapter()
    let failing = true
    const adapter: StreamAdapter = {
      ...inner,
      epoch: inner.epoch,
      async list(ref) {
        if (failing) throw new Error('disk on fire at /secret/path')
        return inner.list(ref)
      },
    }
    const server = await startServer({ adapter: { type: 'custom', adapter } })
    const client = await connectExtended(server)
    client.join('s', 'chat', 'room-1')
    const error = await client.next()
    expect(error).toEqual({
      type: 'error',
      code: 'sync_failed',
      message: 'The store could not be read; join again to retry.',
      subscriptionId: 's',
    })
    await set(server, 'chat', 'room-1', 'x', 1)
    expect((await client.next()).event.type).toBe('create')
    failing = false
    client.join('s', 'chat', 'room-1')
    expect((await client.next()).event).toEqual({ type: 'sync', data: [1], ids: ['x'] })
  })
})

describe('resume (§7)', () => {
  it('replays the changes after since and sends resumed, in the same epoch', async () => {
    const server = await startServer()
    await set(server, 'chat', 'room-1', 'm1', 1)
    await set(server, 'chat', 'room-1', 'm2', 2)
    await set(server, 'chat', 'room-1', 'm1', 3)
    const client = await connectExtended(server)
    client.send({
      type: 'join',
      data: {
        subscriptionId: 's',
        streamName: 'chat',
        groupId: 'room-1',
        since: { epoch: server.epoch, seq: 1 },
      },
    })
    const frames = [await client.next(), await client.next(), await client.next()]
    expect(frames.map((f) => [f.id, f.event.type, f.event.data, f.seq])).toEqual([
      ['m2', 'create', 2, 2],
      ['m1', 'update', 3, 3],
      [null, 'resumed', undefined, 3],
    ])
    expect(frames[2]).toMatchObject({ epoch: server.epoch, subscriptionId: 's' })
    client.send({
      type: 'join',
      data: {
        subscriptionId: 'i',
        streamName: 'chat',
        groupId: 'room-1',
        id: 'm1',
        since: { epoch: server.epoch, seq: 1 },
      },
    })
    expect([(await client.next()).seq, (await client.next()).event.type]).toEqual([3, 'resumed'])
  })

  it('falls back to a sync for another epoch or a seq from the future', async () => {
    const server = await startServer()
    await set(server, 'chat', 'room-1', 'm1', 1)
    const client = await connectExtended(server)
    for (const since of [
      { epoch: 'old', seq: 0 },
      { epoch: server.epoch, seq: 9 },
    ]) {
      client.send({
        type: 'join',
        data: { subscriptionId: 's', streamName: 'chat', groupId: 'room-1', since },
      })
      expect((await client.next()).event).toEqual({ type: 'sync', data: [1], ids: ['m1'] })
    }
  })
})

describe('path-addressed sockets (§8)', () => {
  it('joins the group or item of the path at once, with subscription id path', async () => {
    const server = await startServer()
    await set(server, 'chat room', 'room/1', 'm 1', { text: 'hi' })
    const group = await connect(server, '/stream/chat%20room/room%2F1')
    expect(withoutTimestamp(await group.next())).toEqual({
      type: 'stream',
      streamName: 'chat room',
      groupId: 'room/1',
      id: null,
      event: { type: 'sync', data: [{ text: 'hi' }] },
    })
    const item = await connect(server, '/stream/chat%20room/room%2F1/m%201/?iii-streams=1')
    expect((await item.next()).type).toBe('hello')
    expect(await item.next()).toMatchObject({
      id: 'm 1',
      event: { type: 'sync', data: { text: 'hi' } },
      subscriptionId: 'path',
    })
    await set(server, 'chat room', 'room/1', 'm 1', { text: 'yo' })
    expect((await group.next()).event).toEqual({ type: 'update', data: { text: 'yo' } })
    await expect(connect(server, '/stream/only-stream')).rejects.toThrow(/404/)
    await expect(connect(server, '/stream/%E0%A4%A/g')).rejects.toThrow(/400/)
  })
})
