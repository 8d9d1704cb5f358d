import { describe, expect, it } from 'vitest'
import {
  connect,
  connectExtended,
  type Frame,
  set,
  startServer,
  withoutTimestamp,
} from './_harness.ts'

/**
 * The §2.3 suite runs twice: on a plain socket, where frames must be the engine's exactly, and on an
 * extended one, where they must be the engine's once the extension fields are taken away.
 */
const MODES = [
  { mode: 'plain', open: connect, view: (frame: Frame) => withoutTimestamp(frame) },
  {
    mode: 'extended',
    open: connectExtended,
    view: (frame: Frame) => {
      const { seq: _seq, epoch: _epoch, subscriptionId: _sub, ...rest } = withoutTimestamp(frame)
      if (rest.event?.type === 'sync' && Array.isArray(rest.event.ids)) {
        const { ids: _ids, ...event } = rest.event
        return { ...rest, event }
      }
      return rest
    },
  },
] as const

const wrapper = (id: string | null, event: unknown) => ({
  type: 'stream',
  streamName: 'chat',
  groupId: 'room-1',
  id,
  event,
})

describe.each(MODES)(
  'the stream port, frame for frame (STREAM-PROTOCOL.md §2.3), $mode',
  ({ mode, open, view }) => {
    it('syncs a group as the raw stored values in insertion order, and [] when empty', async () => {
      const server = await startServer()
      await set(server, 'chat', 'room-1', 'm1', { author: 'alice', text: 'hi' })
      await set(server, 'chat', 'room-1', 'm2', { author: 'bob', text: 'yo' })
      await set(server, 'chat', 'room-1', 'm1', { author: 'alice', text: 'hi!' })
      const client = await open(server)
      client.join('sub-1', 'chat', 'room-1')
      expect(view(await client.next())).toEqual(
        wrapper(null, {
          type: 'sync',
          data: [
            { author: 'alice', text: 'hi!' },
            { author: 'bob', text: 'yo' },
          ],
        }),
      )
      client.join('sub-2', 'chat', 'empty')
      expect(view(await client.next())).toEqual({
        ...wrapper(null, { type: 'sync', data: [] }),
        groupId: 'empty',
      })
    })

    it('syncs an item as its value, or null when missing', async () => {
      const server = await startServer()
      await set(server, 'chat', 'room-1', 'msg-1', { author: 'alice', text: 'hi' })
      const client = await open(server)
      client.join('sub-1', 'chat', 'room-1', 'msg-1')
      expect(view(await client.next())).toEqual(
        wrapper('msg-1', { type: 'sync', data: { author: 'alice', text: 'hi' } }),
      )
      client.join('sub-2', 'chat', 'room-1', 'nope')
      expect(view(await client.next())).toEqual(wrapper('nope', { type: 'sync', data: null }))
    })

    it('sends create, update and delete (with the old value) for set, update and delete', async () => {
      const server = await startServer()
      const client = await open(server)
      client.join('sub-1', 'chat', 'room-1')
      await client.next()
      await set(server, 'chat', 'room-1', 'msg-3', { author: 'carol', text: 'new' })
      await server.trigger({
        function_id: 'stream::update',
        payload: {
          stream_name: 'chat',
          group_id: 'room-1',
          item_id: 'msg-3',
          ops: [{ type: 'set', path: 'text', value: 'edited' }],
        },
      })
      await server.trigger({
        function_id: 'stream::delete',
        payload: { stream_name: 'chat', group_id: 'room-1', item_id: 'msg-3' },
      })
      // Deleting a missing item is silent.
      await server.trigger({
        function_id: 'stream::delete',
        payload: { stream_name: 'chat', group_id: 'room-1', item_id: 'msg-3' },
      })
      await server.trigger({
        function_id: 'stream::update',
        payload: { stream_name: 'chat', group_id: 'room-1', item_id: 'fresh', ops: [] },
      })
      const frames = [
        await client.next(),
        await client.next(),
        await client.next(),
        await client.next(),
      ]
      expect(frames.map(view)).toEqual([
        wrapper('msg-3', { type: 'create', data: { author: 'carol', text: 'new' } }),
        wrapper('msg-3', { type: 'update', data: { author: 'carol', text: 'edited' } }),
        wrapper('msg-3', { type: 'delete', data: { author: 'carol', text: 'edited' } }),
        wrapper('fresh', { type: 'create', data: {} }),
      ])
      // Plain sockets never see a seq; extended ones see each change's.
      expect(frames.map((frame) => frame.seq)).toEqual(
        mode === 'plain' ? [undefined, undefined, undefined, undefined] : [1, 2, 3, 4],
      )
    })

    it('sends stream::send events with and without an id', async () => {
      const server = await startServer()
      const client = await open(server)
      client.join('sub-1', 'chat', 'room-1')
      await client.next()
      for (const id of ['msg-1', undefined]) {
        await server.trigger({
          function_id: 'stream::send',
          payload: {
            stream_name: 'chat',
            group_id: 'room-1',
            type: 'typing',
            data: { user: 'bob' },
            id,
          },
        })
      }
      expect(view(await client.next())).toEqual(
        wrapper('msg-1', { type: 'event', event: { type: 'typing', data: { user: 'bob' } } }),
      )
      expect(view(await client.next())).toEqual(
        wrapper(null, { type: 'event', event: { type: 'typing', data: { user: 'bob' } } }),
      )
    })

    it('answers a join rejected by a stream:join handler with unauthorized, and subscribes nothing', async () => {
      const server = await startServer()
      const seen: unknown[] = []
      server.registerFunction('deny', async (input) => {
        seen.push(input)
        return input.group_id === 'vip' ? { unauthorized: true } : {}
      })
      server.registerFunction('alsoRuns', async () => ({ unauthorized: 'yes' }))
      server.registerTrigger({ type: 'stream:join', function_id: 'deny', config: {} })
      server.registerTrigger({ type: 'stream:join', function_id: 'alsoRuns', config: {} })
      const client = await open(server)
      client.join('sub-1', 'chat', 'vip')
      expect(view(await client.next())).toEqual({
        ...wrapper(null, { type: 'unauthorized' }),
        groupId: 'vip',
      })
      await set(server, 'chat', 'vip', 'x', 1)
      expect(await client.drain()).toEqual([])
      expect(seen).toContainEqual({
        subscription_id: 'sub-1',
        stream_name: 'chat',
        group_id: 'vip',
        id: null,
        context: null,
      })
    })
  },
)

describe('who receives what (§2.5)', () => {
  it('sends one copy per matching subscription on a plain connection', async () => {
    const server = await startServer()
    const client = await connect(server)
    client.join('group', 'chat', 'room-1')
    client.join('item', 'chat', 'room-1', 'm1')
    client.join('other-item', 'chat', 'room-1', 'm2')
    client.join('other-group', 'chat', 'room-2')
    expect((await client.drain()).map((f) => f.event.type)).toEqual([
      'sync',
      'sync',
      'sync',
      'sync',
    ])
    await set(server, 'chat', 'room-1', 'm1', { text: 'hi' })
    await server.trigger({
      function_id: 'stream::send',
      payload: { stream_name: 'chat', group_id: 'room-1', type: 'typing', data: 1, id: 'm1' },
    })
    await server.trigger({
      function_id: 'stream::send',
      payload: { stream_name: 'chat', group_id: 'room-1', type: 'ping-all', data: 2 },
    })
    const frames = await client.drain()
    expect(frames.map((f) => `${f.event.type}:${f.id}`)).toEqual([
      'create:m1',
      'create:m1',
      'event:m1',
      'event:m1',
      // An id-less send reaches the group subscription only.
      'event:null',
    ])
  })

  it('replaces a subscription joined twice under one id, with no leave', async () => {
    const server = await startServer()
    const leaves: unknown[] = []
    server.registerFunction('onLeave', async (input) => void leaves.push(input))
    server.registerTrigger({ type: 'stream:leave', function_id: 'onLeave', config: {} })
    const client = await connect(server)
    client.join('s', 'chat', 'a')
    client.join('s', 'chat', 'b')
    await client.drain()
    await set(server, 'chat', 'a', 'x', 1)
    await set(server, 'chat', 'b', 'x', 2)
    expect((await client.drain()).map((f) => f.groupId)).toEqual(['b'])
    expect(leaves).toEqual([])
  })

  it('fires stream:leave with the names of the leave frame, even for an unknown id, and stops delivery', async () => {
    const server = await startServer({ authFunction: 'auth' })
    server.registerFunction('auth', async () => ({ context: { user: 'u1' } }))
    const leaves: unknown[] = []
    server.registerFunction('onLeave', async (input) => void leaves.push(input))
    server.registerTrigger({ type: 'stream:leave', function_id: 'onLeave', config: {} })
    const client = await connect(server)
    client.join('s', 'chat', 'room-1')
    client.leave('s', 'chat', 'written-in-the-leave')
    client.leave('unknown', 'chat', 'room-9')
    await client.drain()
    await set(server, 'chat', 'room-1', 'x', 1)
    expect(await client.drain()).toEqual([])
    expect(leaves).toEqual([
      {
        subscription_id: 's',
        stream_name: 'chat',
        group_id: 'written-in-the-leave',
        id: null,
        context: { user: 'u1' },
      },
      {
        subscription_id: 'unknown',
        stream_name: 'chat',
        group_id: 'room-9',
        id: null,
        context: { user: 'u1' },
      },
    ])
  })

  it('fires stream:leave for every subscription still held when the socket closes', async () => {
    const server = await startServer()
    const leaves: { subscription_id: string }[] = []
    let done: () => void = () => {}
    const allLeft = new Promise<void>((resolve) => {
      done = resolve
    })
    server.registerFunction('onLeave', async (input) => {
      leaves.push(input)
      if (leaves.length === 3) done()
    })
    server.registerTrigger({ type: 'stream:leave', function_id: 'onLeave', config: {} })
    const client = await connect(server)
    client.join('a', 'chat', 'room-1')
    client.join('b', 'chat', 'room-1', 'm1')
    await client.drain()
    client.ws.close()
    await allLeft
    expect(leaves.map((l) => l.subscription_id).sort()).toEqual(['__barrier__', 'a', 'b'])
  })

  it('ignores malformed frames on a plain connection and keeps serving it', async () => {
    const server = await startServer()
    const client = await connect(server)
    for (const junk of [
      'not json',
      '{"type":"Join","data":{}}',
      '{"type":"join"}',
      '[]',
      '   ',
      '{"type":"ping"}',
    ]) {
      client.send(junk)
    }
    client.ws.send(
      Buffer.from(
        JSON.stringify({
          type: 'join',
          data: { subscriptionId: 'bin', streamName: 'chat', groupId: 'room-1' },
        }),
      ),
      { binary: true },
    )
    const frames = await client.drain()
    expect(frames.map((f) => `${f.event.type}:${f.groupId}`)).toEqual(['sync:room-1'])
    expect(server.log.filter((line) => line.startsWith('warn ignored a frame'))).toHaveLength(5)
  })
})

describe('stream triggers (§5.1)', () => {
  it('runs matching triggers with the wrapper as payload, honouring condition functions', async () => {
    const server = await startServer()
    const calls: { fn: string; payload: Record<string, unknown> }[] = []
    for (const fn of ['all', 'room1', 'itemX', 'conditioned']) {
      server.registerFunction(fn, async (payload) => void calls.push({ fn, payload }))
    }
    server.registerFunction('onlyCreates', async (payload) =>
      payload.event.type === 'create' ? null : false,
    )
    server.registerTrigger({ type: 'stream', function_id: 'all', config: { stream_name: 'chat' } })
    server.registerTrigger({
      type: 'stream',
      function_id: 'room1',
      config: { stream_name: 'chat', group_id: 'room-1' },
    })
    server.registerTrigger({
      type: 'stream',
      function_id: 'itemX',
      config: { stream_name: 'chat', item_id: 'x' },
    })
    server.registerTrigger({
      type: 'stream',
      function_id: 'conditioned',
      config: { stream_name: 'chat', condition_function_id: 'onlyCreates' },
    })
    await set(server, 'chat', 'room-1', 'x', 1)
    await set(server, 'chat', 'room-2', 'x', 2)
    await server.trigger({
      function_id: 'stream::send',
      payload: { stream_name: 'chat', group_id: 'room-1', type: 't', data: 3 },
    })
    await expect.poll(() => calls.length).toBe(9)
    expect(
      calls
        .map((c) => `${c.fn}:${c.payload.groupId}:${(c.payload.event as { type: string }).type}`)
        .sort(),
    ).toEqual(
      [
        'all:room-1:create',
        'all:room-2:create',
        'all:room-1:event',
        'room1:room-1:create',
        'room1:room-1:event',
        'itemX:room-1:create',
        'itemX:room-2:create',
        'conditioned:room-1:create',
        'conditioned:room-2:create',
      ].sort(),
    )
    expect(calls[0]!.payload).toMatchObject({
      type: 'stream',
      streamName: 'chat',
      groupId: 'room-1',
      id: 'x',
    })
    expect(calls[0]!.payload).not.toHaveProperty('seq')
  })

  it('refuses a stream trigger without stream_name and an unknown trigger type', async () => {
    const server = await startServer()
    expect(() => server.registerTrigger({ type: 'stream', function_id: 'f', config: {} })).toThrow(
      /stream_name/,
    )
    expect(() => server.registerTrigger({ type: 'cron', function_id: 'f', config: {} })).toThrow(
      /Unknown trigger type/,
    )
  })
})

describe('auth (§1.3)', () => {
  it('passes the engine input (headers, path, query_params quirks, addr) and the context to joins', async () => {
    const server = await startServer({ authFunction: 'onAuth' })
    let input: Record<string, unknown> | undefined
    server.registerFunction('onAuth', async (received) => {
      input = received
      return { context: { user: 'u1' } }
    })
    const joins: unknown[] = []
    server.registerFunction('onJoin', async (payload) => void joins.push(payload))
    server.registerTrigger({ type: 'stream:join', function_id: 'onJoin', config: {} })
    const client = await connect(server, '/?token=a%20b&a=1&a=2&c&=skipped&plus=x+y', {
      headers: { Authorization: 'Bearer x', 'X-Latin': 'caf\u00e9' },
    })
    client.join('s', 'chat', 'r')
    await client.next()
    expect(input).toMatchObject({
      path: '/',
      query_params: { token: ['a%20b'], a: ['1', '2'], c: [''], plus: ['x+y'] },
      addr: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    })
    const headers = input!.headers as Record<string, string>
    expect(headers.authorization).toBe('Bearer x')
    expect(headers.host).toBe(`127.0.0.1:${server.port}`)
    expect(headers).not.toHaveProperty('x-latin')
    expect(joins).toEqual([
      {
        subscription_id: 's',
        stream_name: 'chat',
        group_id: 'r',
        id: null,
        context: { user: 'u1' },
      },
    ])
  })

  it.each([
    [
      'throws',
      async () => {
        throw new Error('nope')
      },
    ],
    ['returns null', async () => null],
    ['returns a string', async () => 'x'],
  ])('fails open when the auth function %s', async (_, handler) => {
    const server = await startServer({ authFunction: 'onAuth' })
    server.registerFunction('onAuth', handler)
    const contexts: unknown[] = []
    server.registerFunction('onJoin', async (payload) => void contexts.push(payload.context))
    server.registerTrigger({ type: 'stream:join', function_id: 'onJoin', config: {} })
    const client = await connect(server)
    client.join('s', 'chat', 'r')
    expect((await client.next()).event.type).toBe('sync')
    expect(contexts).toEqual([null])
  })

  it('fails open when the auth function does not exist', async () => {
    const server = await startServer({ authFunction: 'missing' })
    const client = await connect(server)
    client.join('s', 'chat', 'r')
    expect((await client.next()).event.type).toBe('sync')
  })
})

describe('paths (§1.2)', () => {
  it('serves only / to a plain-engine server', async () => {
    const server = await startServer({ extensions: false })
    await expect(connect(server, '/stream/chat/room-1')).rejects.toThrow(/404/)
    await expect(connect(server, '/other')).rejects.toThrow(/404/)
  })
})
