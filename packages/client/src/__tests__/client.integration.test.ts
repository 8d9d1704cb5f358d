import { describe, expect, it, vi } from 'vitest'
import { createStreamClient, isStreamsError } from '../index.ts'
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

interface Message {
  id: string
  text: string
  n?: number
}

describe.each([
  { mode: 'extended', extensions: true },
  { mode: 'plain engine', extensions: false },
])('against a $mode server', ({ extensions }) => {
  it('syncs a group, then follows creates, updates, patches and deletes', async () => {
    const server = await startServer({ extensions })
    await set(server, 'chat', 'room-1', 'm1', { id: 'm1', text: 'hi' })
    const client = startClient(server.url)
    const messages = client.group<Message>('chat', 'room-1')
    hold(messages)
    const first = await until(messages, (s) => s.status === 'ready')
    expect(first.items).toEqual([{ id: 'm1', text: 'hi' }])
    expect(client.connection.get()).toMatchObject({ status: 'open', extensions })
    await set(server, 'chat', 'room-1', 'm2', { id: 'm2', text: 'yo' })
    await update(server, 'chat', 'room-1', 'm1', [{ type: 'increment', path: 'n', by: 2 }])
    await remove(server, 'chat', 'room-1', 'm2')
    const last = await until(messages, (s) => s.items.length === 1 && s.items[0]?.n === 2)
    expect(last.items).toEqual([{ id: 'm1', text: 'hi', n: 2 }])
    expect(last.byId.get('m1')).toBe(last.items[0])
  })

  it('reads an item on its own, null while missing', async () => {
    const server = await startServer({ extensions })
    const client = startClient(server.url)
    const user = client.item<{ name: string }>('presence', 'room-1', 'u1')
    hold(user)
    expect((await until(user, (s) => s.status === 'ready')).data).toBeNull()
    await set(server, 'presence', 'room-1', 'u1', { name: 'Ada' })
    expect((await until(user, (s) => s.data !== null)).data).toEqual({ name: 'Ada' })
  })

  it('keeps an item subscription live while its siblings change (seq counts the whole group)', async () => {
    const server = await startServer({ extensions })
    const counts = countJoins(server)
    await set(server, 'chat', 'room-1', 'm1', { id: 'm1', text: 'one' })
    const client = startClient(server.url)
    const item = client.item<Message>('chat', 'room-1', 'm1')
    hold(item)
    await until(item, (s) => s.status === 'ready')
    await set(server, 'chat', 'room-1', 'm2', { id: 'm2', text: 'two' })
    await set(server, 'chat', 'room-1', 'm1', { id: 'm1', text: 'uno' })
    await update(server, 'chat', 'room-1', 'm3', [{ type: 'set', path: 'x', value: 1 }])
    await update(server, 'chat', 'room-1', 'm1', [{ type: 'set', path: 'text', value: 'eins' }])
    expect((await until(item, (s) => s.data?.text === 'eins')).data).toEqual({
      id: 'm1',
      text: 'eins',
    })
    expect(counts.joins).toEqual(['room-1/m1'])
  })

  it('serves an item created before its group is held from that group, with one join', async () => {
    const server = await startServer({ extensions })
    const counts = countJoins(server)
    await set(server, 'chat', 'room-1', 'm1', { id: 'm1', text: 'one' })
    const client = startClient(server.url)
    const group = client.group<Message>('chat', 'room-1')
    const item = client.item<Message>('chat', 'room-1', 'm1')
    hold(group)
    hold(item)
    await until(item, (s) => s.data?.text === 'one')
    await set(server, 'chat', 'room-1', 'm1', { id: 'm1', text: 'uno' })
    await until(item, (s) => s.data?.text === 'uno')
    expect(item.get()).toBe(item.get())
    expect(counts.joins).toEqual(['room-1'])
  })

  it('shares one join among readers and leaves after the linger', async () => {
    const server = await startServer({ extensions })
    const counts = countJoins(server)
    const client = startClient(server.url, { lingerMs: 100 })
    const a = client.group('chat', 'room-1')
    const b = client.group('chat', 'room-1')
    const stopA = a.subscribe(() => {})
    const stopB = b.subscribe(() => {})
    await until(a, (s) => s.status === 'ready')
    // A group held serves item reads without a second join.
    const item = client.item('chat', 'room-1', 'x')
    const stopItem = item.subscribe(() => {})
    stopA()
    stopB()
    stopItem()
    // A quick remount within the linger causes no churn.
    const again = a.subscribe(() => {})
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(counts).toEqual({ joins: ['room-1'], leaves: [] })
    again()
    await expect.poll(() => counts.leaves).toEqual(['room-1'])
  })

  it('keeps every other item === when one changes, and coalesces bursts', async () => {
    const server = await startServer({ extensions })
    for (let i = 0; i < 50; i++)
      await set(server, 'g', 'big', `m${i}`, { id: `m${i}`, text: 'x', nested: { i } })
    const client = startClient(server.url)
    const store = client.group<Message & { nested: { i: number } }>('g', 'big')
    const seen = hold(store)
    const before = await until(store, (s) => s.status === 'ready')
    await update(server, 'g', 'big', 'm7', [{ type: 'set', path: 'text', value: 'changed' }])
    const after = await until(store, (s) => s.items[7]?.text === 'changed')
    expect(after.items.filter((item, i) => item !== before.items[i])).toHaveLength(1)
    expect(after.items[7]?.nested).toBe(before.items[7]?.nested)
    const notifications = seen.length
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        set(server, 'g', 'big', `m${i % 50}`, { id: `m${i % 50}`, text: `t${i}`, nested: { i } }),
      ),
    )
    const settled = await until(store, (s) => s.items[49]?.text === 't199')
    expect(settled.items[0]?.text).toBe('t150')
    // 200 changes arrived in a burst: far fewer snapshots than frames.
    expect(seen.length - notifications).toBeLessThan(50)
  })

  it('delivers custom events once, however many of its subscriptions match', async () => {
    const server = await startServer({ extensions })
    const client = startClient(server.url)
    const events: unknown[] = []
    const off = client.onEvent('chat', 'room-1', (event) => events.push(event))
    const item = client.item('chat', 'room-1', 'm1')
    hold(item)
    hold(client.group('chat', 'room-1'))
    await until(client.group('chat', 'room-1'), (s) => s.status === 'ready')
    await until(item, (s) => s.status === 'ready')
    for (const id of ['m1', undefined]) {
      await server.trigger({
        function_id: 'stream::send',
        payload: {
          stream_name: 'chat',
          group_id: 'room-1',
          type: 'typing',
          data: { who: 'bob' },
          id,
        },
      })
    }
    await set(server, 'chat', 'room-1', 'm1', { id: 'm1', text: 'after' })
    await until(item, (s) => s.data !== null)
    expect(events).toEqual([
      { type: 'typing', data: { who: 'bob' }, id: 'm1' },
      { type: 'typing', data: { who: 'bob' }, id: null },
    ])
    off()
  })

  it('ends an unauthorized subscription alone, with its error', async () => {
    const server = await startServer({ extensions })
    server.registerFunction('deny', async (p: { group_id: string }) =>
      p.group_id === 'vip' ? { unauthorized: true } : {},
    )
    server.registerTrigger({ type: 'stream:join', function_id: 'deny', config: {} })
    const client = startClient(server.url)
    const vip = client.group('chat', 'vip')
    const open = client.group('chat', 'lobby')
    hold(vip)
    hold(open)
    const refused = await until(vip, (s) => s.status === 'unauthorized')
    expect(isStreamsError(refused.error) && refused.error.code).toBe('unauthorized')
    expect((await until(open, (s) => s.status === 'ready')).error).toBeNull()
  })

  it('applies an optimistic change at once, and rolls it back when the commit fails', async () => {
    const server = await startServer({ extensions })
    await set(server, 'metrics', 'cpu', 'host', { id: 'host', hits: 1 })
    const client = startClient(server.url)
    const metrics = client.group<{ id: string; hits: number }>('metrics', 'cpu')
    hold(metrics)
    await until(metrics, (s) => s.status === 'ready')
    const ops = [{ type: 'increment' as const, path: 'hits', by: 1 }]
    let release: () => void = () => {}
    const commit = () =>
      new Promise<void>((resolve) => {
        release = resolve
      }).then(() => update(server, 'metrics', 'cpu', 'host', ops))
    const done = client.mutate('metrics', 'cpu', 'host', ops, commit)
    expect((await until(metrics, (s) => s.items[0]?.hits === 2)).items[0]?.hits).toBe(2)
    release()
    await done
    // The server's change lands; the value stays 2 (never 3: the optimistic layer is not applied twice).
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(metrics.get().items[0]?.hits).toBe(2)
    const failing = client.mutate('metrics', 'cpu', 'host', ops, async () => {
      // The optimistic value is on screen before the backend answers.
      await until(metrics, (s) => s.items[0]?.hits === 3)
      throw new Error('backend said no')
    })
    await expect(failing).rejects.toMatchObject({
      code: 'commit_failed',
      message: expect.stringContaining('backend said no'),
    })
    expect((await until(metrics, (s) => s.items[0]?.hits === 2)).items[0]?.hits).toBe(2)
    expect(
      await server.trigger({
        function_id: 'stream::get',
        payload: { stream_name: 'metrics', group_id: 'cpu', item_id: 'host' },
      }),
    ).toEqual({ id: 'host', hits: 2 })
  })

  it('applies a pending change once when the resync after a cut already holds it', async () => {
    const server = await startServer({ extensions })
    await set(server, 'metrics', 'cpu', 'host', { id: 'host', hits: 1 })
    const relay = await startRelay(server.port)
    const client = startClient(`ws://127.0.0.1:${relay.port}`)
    const metrics = client.group<{ id: string; hits: number }>('metrics', 'cpu')
    const seen = hold(metrics)
    await until(metrics, (s) => s.status === 'ready')
    const ops = [{ type: 'increment' as const, path: 'hits', by: 1 }]
    // The backend applies the change while the client is cut off; its answer never comes back.
    void client.mutate('metrics', 'cpu', 'host', ops, async () => {
      relay.cut()
      await update(server, 'metrics', 'cpu', 'host', ops)
      await new Promise(() => {})
    })
    await until(client.connection, (s) => s.status === 'reconnecting')
    await until(client.connection, (s) => s.status === 'open')
    await until(metrics, (s) => s.status === 'ready')
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(seen.flatMap((s) => s.items.map((item) => item.hits))).not.toContain(3)
    expect(metrics.get().items[0]?.hits).toBe(2)
  })

  it('shows a committed change once to a group subscribed after it', async () => {
    const server = await startServer({ extensions })
    await set(server, 'metrics', 'cpu', 'host', { id: 'host', hits: 1 })
    const client = startClient(server.url)
    const ops = [{ type: 'increment' as const, path: 'hits', by: 1 }]
    await client.mutate('metrics', 'cpu', 'host', ops, () =>
      update(server, 'metrics', 'cpu', 'host', ops),
    )
    const metrics = client.group<{ id: string; hits: number }>('metrics', 'cpu')
    const seen = hold(metrics)
    await until(metrics, (s) => s.status === 'ready')
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(seen.flatMap((s) => s.items.map((item) => item.hits))).toEqual([2])
  })
})

describe('a group and its item joined on one connection', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
  const send = (server: Awaited<ReturnType<typeof startServer>>, data: unknown, id: string) =>
    server.trigger({
      function_id: 'stream::send',
      payload: { stream_name: 'chat', group_id: 'room-1', type: 't', data, id },
    })

  it('plain: delivers each event once while the item is released (its leave takes a while)', async () => {
    const server = await startServer({ extensions: false })
    // The server runs its leave triggers before it drops the subscription.
    server.registerFunction('slowLeave', async () => {
      await sleep(300)
    })
    server.registerTrigger({ type: 'stream:leave', function_id: 'slowLeave', config: {} })
    const client = startClient(server.url, { lingerMs: 10 })
    const item = client.item('chat', 'room-1', 'm1')
    const stop = item.subscribe(() => {})
    await until(item, (s) => s.status === 'ready')
    const group = client.group('chat', 'room-1')
    hold(group)
    await until(group, (s) => s.status === 'ready')
    const events: unknown[] = []
    client.onEvent('chat', 'room-1', (event) => events.push(event.data))
    stop()
    await sleep(50)
    for (let index = 0; index < 5; index++) await send(server, index, 'm1')
    await expect.poll(() => events.length).toBeGreaterThanOrEqual(5)
    await sleep(400)
    expect(events).toEqual([0, 1, 2, 3, 4])
  })

  it('plain: a refused group hears nothing, not even the events of an item held on its own', async () => {
    const server = await startServer({ extensions: false })
    server.registerFunction('itemsOnly', async (p: { id: string | null }) =>
      p.id === null ? { unauthorized: true } : {},
    )
    server.registerTrigger({ type: 'stream:join', function_id: 'itemsOnly', config: {} })
    const client = startClient(server.url)
    const item = client.item<{ n: number }>('chat', 'room-1', 'm1')
    hold(item)
    await until(item, (s) => s.status === 'ready')
    const group = client.group('chat', 'room-1')
    hold(group)
    await until(group, (s) => s.status === 'unauthorized')
    const events: unknown[] = []
    client.onEvent('chat', 'room-1', (event) => events.push(event.data))
    for (let index = 0; index < 4; index++) await send(server, 'same', 'm1')
    await set(server, 'chat', 'room-1', 'm1', { n: 1 })
    await until(item, (s) => s.data?.n === 1)
    await sleep(100)
    expect(events).toEqual([])
    expect(group.get().status).toBe('unauthorized')
  })

  it('extended: an item joined before its group costs no extra join on a resume', async () => {
    const server = await startServer({ extensions: true })
    const counts = countJoins(server)
    await set(server, 'chat', 'room-1', 'a', { id: 'a', n: 0 })
    await set(server, 'chat', 'room-1', 'b', { id: 'b', n: 0 })
    const relay = await startRelay(server.port)
    const client = startClient(`ws://127.0.0.1:${relay.port}`)
    const item = client.item('chat', 'room-1', 'a')
    hold(item)
    await until(item, (s) => s.status === 'ready')
    const group = client.group<{ id: string; n: number }>('chat', 'room-1')
    hold(group)
    await until(group, (s) => s.status === 'ready')
    relay.cut()
    await until(client.connection, (s) => s.status === 'reconnecting')
    const increment = [{ type: 'increment' as const, path: 'n', by: 1 }]
    await update(server, 'chat', 'room-1', 'b', increment)
    await update(server, 'chat', 'room-1', 'a', increment)
    await until(group, (s) => s.byId.get('a')?.n === 1 && s.byId.get('b')?.n === 1)
    await sleep(300)
    expect(counts.joins).toEqual(['room-1/a', 'room-1', 'room-1/a', 'room-1'])
  })
})

describe('items without ids', () => {
  it('reports no_item_id on a plain engine when items carry no id, and uses getItemId when given', async () => {
    const server = await startServer({ extensions: false })
    await set(server, 'chat', 'room-1', 'm1', { text: 'no id' })
    const client = startClient(server.url)
    const bare = client.group('chat', 'room-1')
    hold(bare)
    const failed = await until(bare, (s) => s.status === 'error')
    expect(failed.error?.code).toBe('no_item_id')
    const withGetter = startClient(server.url, {
      getItemId: (item) => (item as { text: string }).text,
    })
    const keyed = withGetter.group('chat', 'room-1')
    hold(keyed)
    expect((await until(keyed, (s) => s.status === 'ready')).byId.has('no id')).toBe(true)
  })

  it('needs no ids in data on an extended server', async () => {
    const server = await startServer()
    await set(server, 'chat', 'room-1', 'm1', { text: 'no id' })
    const client = startClient(server.url)
    const store = client.group('chat', 'room-1')
    hold(store)
    expect((await until(store, (s) => s.status === 'ready')).byId.get('m1')).toEqual({
      text: 'no id',
    })
  })
})

describe('a connection that goes quiet', () => {
  it('is replaced after 2 heartbeats + 1 s, and says why', async () => {
    const server = await startServer({ heartbeatMs: 100 })
    const relay = await startRelay(server.port)
    const client = startClient(`ws://127.0.0.1:${relay.port}`)
    const room = client.group('chat', 'room-1')
    hold(room)
    await until(room, (s) => s.status === 'ready')
    const errors: (string | undefined)[] = []
    client.connection.subscribe((state) => errors.push(state.error?.message))
    relay.silence()
    await until(client.connection, (s) => s.status === 'reconnecting', 5000)
    await until(client.connection, (s) => s.status === 'open', 5000)
    expect(new Set(errors.filter(Boolean))).toEqual(
      new Set(['The server went quiet; reconnecting.']),
    )
    // Live again through the relay.
    await set(server, 'chat', 'room-1', 'after', { text: 'back' })
    await until(room, (s) => s.byId.has('after'))
  })
})

describe('auth and options', () => {
  it('connects, and asks auth, only once something is subscribed', async () => {
    const server = await startServer()
    await set(server, 'chat', 'room-1', 'm1', { id: 'm1', text: 'hi' })
    let asked = 0
    const client = startClient(server.url, {
      auth: async () => {
        asked++
        return 'token'
      },
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(server.connectionCount).toBe(0)
    expect(asked).toBe(0)
    expect(client.connection.get()).toMatchObject({ status: 'connecting', attempt: 0 })
    const room = client.group('chat', 'room-1')
    hold(room)
    const { items } = await until(room, (s) => s.status === 'ready')
    expect(items).toEqual([{ id: 'm1', text: 'hi' }])
    expect(server.connectionCount).toBe(1)
    expect(asked).toBe(1)
  })

  it('asks auth on every connection, and asks again after a failure instead of stalling', async () => {
    const tokens: (string | null)[] = []
    const server = await startServer({ authFunction: 'onAuth' })
    server.registerFunction('onAuth', async (input: { query_params: Record<string, string[]> }) => {
      const token = input.query_params.token?.[0] ?? null
      tokens.push(token)
      return { context: { user: token } }
    })
    const relay = await startRelay(server.port)
    let calls = 0
    const errors: string[] = []
    const client = startClient(`ws://127.0.0.1:${relay.port}`, {
      auth: () => {
        calls++
        if (calls === 1) throw new Error('token service down')
        if (calls === 2) return Promise.reject(new Error('still down'))
        return Promise.resolve(`token-${calls}`)
      },
      onError: (error) => errors.push(`${error.code}: ${error.message}`),
    })
    const room = client.group('chat', 'room-1')
    hold(room)
    await until(room, (s) => s.status === 'ready')
    expect(errors).toEqual([
      'auth_failed: auth() failed, so the client cannot connect; trying again (token service down)',
      'auth_failed: auth() failed, so the client cannot connect; trying again (still down)',
    ])
    expect(tokens).toEqual(['token-3'])
    // A lost connection asks for a token again, and the next one is sent.
    relay.cut()
    await until(client.connection, (s) => s.status === 'reconnecting')
    await until(client.connection, (s) => s.status === 'open')
    expect(tokens).toEqual(['token-3', 'token-4'])
    expect(calls).toBe(4)
  })

  it('sends any token so that decodeURIComponent gives it back whole on the server', async () => {
    const received: string[] = []
    const server = await startServer({ authFunction: 'onAuth' })
    server.registerFunction('onAuth', async (input: { query_params: Record<string, string[]> }) => {
      received.push(input.query_params.token?.[0] ?? '')
      return { context: {} }
    })
    // Standard base64, a space, a percent sign, a non-ASCII letter, and a token param in the URL.
    const token = 'a+b/c=d&e f%25é?'
    const client = startClient(`${server.url}?token=stale&app=1`, { auth: async () => token })
    const room = client.group('chat', 'room-1')
    hold(room)
    await until(room, (s) => s.status === 'ready')
    expect(received.map(decodeURIComponent)).toEqual([token])
  })

  it('connects even when onError throws, and reports that throw on its own', async () => {
    const server = await startServer()
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      let calls = 0
      const client = startClient(server.url, {
        auth: () => {
          calls++
          if (calls === 1) throw new Error('token service down')
          return 'ok'
        },
        onError: () => {
          throw new Error('a bug in the app')
        },
      })
      const room = client.group('chat', 'room-1')
      hold(room)
      await until(room, (s) => s.status === 'ready')
      expect(printed).toHaveBeenCalledWith(new Error('a bug in the app'))
    } finally {
      printed.mockRestore()
    }
  })

  it('stops asking auth once the client is closed', async () => {
    const server = await startServer()
    let calls = 0
    const client = startClient(server.url, {
      auth: () => {
        calls++
        throw new Error('no session')
      },
      onError: () => {},
    })
    hold(client.group('chat', 'room-1'))
    await until(client.connection, (s) => s.error?.code === 'auth_failed')
    client.close()
    const after = calls
    await new Promise((resolve) => setTimeout(resolve, 800))
    expect(calls).toBe(after)
  })

  it('refuses a URL that is not a WebSocket URL, and a missing WebSocket, with a sentence', () => {
    expect(() => startClient('not a url')).toThrow(
      new TypeError('url: "not a url" is not a WebSocket URL (ws://host:3112 or wss://host/…)'),
    )
    expect(() => startClient(['ws://127.0.0.1:3112', 'ftp://127.0.0.1'])).toThrow(
      /url: "ftp:\/\/127\.0\.0\.1" is not a WebSocket URL/,
    )
    expect(() => startClient([])).toThrow(/url: give the stream port/)
    expect(() => startClient('https://streams.example.org/')).not.toThrow()
    vi.stubGlobal('WebSocket', undefined)
    try {
      expect(() => createStreamClient({ url: 'ws://127.0.0.1:3112' })).toThrow(
        /WebSocket: this runtime has none \(Node 20\): pass one/,
      )
    } finally {
      vi.unstubAllGlobals()
    }
  })
})
