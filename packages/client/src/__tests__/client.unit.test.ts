import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { BACKOFF, backoffDelay } from '../backoff.ts'
import { PROBE_TIMEOUT_MS } from '../client.ts'
import {
  type CreateTransport,
  createStreamClient,
  type StreamClientOptions,
  type StreamsError,
} from '../index.ts'

/** An in-memory socket: the test plays the server. */
function fakeSocket() {
  const sent: Record<string, unknown>[] = []
  let events: Parameters<CreateTransport>[1] | undefined
  let reconnects = 0
  let starts = 0
  let attempt = 0
  let open = false
  const transport: CreateTransport = (_url, handlers) => {
    events = handlers
    return {
      start() {
        starts++
      },
      send(text) {
        sent.push(JSON.parse(text))
        return true
      },
      reconnect() {
        reconnects++
        // As reconnecting-websocket does: an open socket is dropped at once, with a normal close.
        if (open) {
          open = false
          events?.close(1000, '')
        }
      },
      close() {},
      get attempt() {
        return attempt
      },
    }
  }
  return {
    transport,
    sent,
    /** The attempt the next `open()` reports (reconnecting-websocket's count). */
    set attempt(value: number) {
      attempt = value
    },
    get reconnects() {
      return reconnects
    },
    /** How many times the client asked the transport to open its first socket. */
    get starts() {
      return starts
    },
    open: () => {
      open = true
      events?.open()
    },
    close: () => {
      open = false
      events?.close(1006, '')
    },
    receive: (frame: unknown) =>
      events?.message(typeof frame === 'string' ? frame : JSON.stringify(frame)),
  }
}

const frame = (event: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  type: 'stream',
  timestamp: 1,
  streamName: 's',
  groupId: 'g',
  id: null,
  event,
  ...extra,
})
const hello = {
  type: 'hello',
  version: 1,
  epoch: 'e1',
  heartbeatMs: 1000,
  limits: { maxFrameBytes: 1, maxSubscriptions: 1 },
}

function setup(options: Partial<StreamClientOptions> = {}) {
  const socket = fakeSocket()
  const client = createStreamClient({
    url: 'ws://test',
    transport: socket.transport,
    schedule: (flush) => flush(),
    lingerMs: 100,
    ...options,
  })
  return { socket, client }
}

/** `mutate` adding 1 to s/g/a's `n`, with a commit that runs until the test resolves it. */
function pendingIncrement(client: ReturnType<typeof createStreamClient>) {
  let finish = () => {}
  const done = client.mutate('s', 'g', 'a', [{ type: 'increment', path: 'n', by: 1 }], () => {
    return new Promise<void>((resolve) => {
      finish = resolve
    })
  })
  return { done, resolve: () => finish() }
}

/** Subscribes to the group s/`groupId` and answers its join with a sync of one item, `a`. */
function syncedGroup(
  socket: ReturnType<typeof fakeSocket>,
  client: ReturnType<typeof createStreamClient>,
  groupId: string,
) {
  const group = client.group<{ id: string }>('s', groupId)
  const stop = group.subscribe(() => {})
  const { subscriptionId } = (socket.sent.at(-1) as { data: { subscriptionId: string } }).data
  socket.receive(frame({ type: 'sync', data: [{ id: 'a' }] }, { groupId, subscriptionId }))
  return { group, stop }
}

/**
 * Collects garbage (the client project runs Node with --expose-gc) until every target of `held`
 * is gone or 5 rounds have passed, on real timers; returns the indices of those still alive.
 */
async function alive(held: readonly WeakRef<object>[]): Promise<number[]> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc (the client project sets it)')
  vi.useRealTimers()
  // WeakRef targets live until the current task ends: collect from a later task.
  for (let round = 0; round < 5 && held.some((ref) => ref.deref() !== undefined); round++) {
    await new Promise((resolve) => setTimeout(resolve, 0))
    gc()
  }
  return held.flatMap((ref, index) => (ref.deref() === undefined ? [] : [index]))
}

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('ordering on an extended connection', () => {
  it('buffers changes before the sync, drops duplicates, and rejoins with since on a gap', () => {
    const { socket, client } = setup()
    const group = client.group<{ v: number }>('s', 'g')
    const seen: unknown[] = []
    group.subscribe((snapshot) => seen.push(snapshot.items))
    socket.open()
    socket.receive(hello)
    const join = socket.sent[0] as { data: { subscriptionId: string } }
    const subscriptionId = join.data.subscriptionId
    // A change that raced the join arrives first, then the sync that already holds seq 1.
    socket.receive(frame({ type: 'create', data: { v: 2 } }, { id: 'b', seq: 2 }))
    socket.receive(
      frame(
        { type: 'sync', data: [{ v: 1 }], ids: ['a'] },
        { seq: 1, epoch: 'e1', subscriptionId },
      ),
    )
    expect(group.get().items).toEqual([{ v: 1 }, { v: 2 }])
    socket.receive(frame({ type: 'update', data: { v: 9 } }, { id: 'a', seq: 2 }))
    expect(group.get().items).toEqual([{ v: 1 }, { v: 2 }])
    socket.receive(
      frame({ type: 'patch', ops: [{ type: 'increment', path: 'v', by: 1 }] }, { id: 'a', seq: 3 }),
    )
    expect(group.get().items).toEqual([{ v: 2 }, { v: 2 }])
    socket.receive(frame({ type: 'delete', data: { v: 2 } }, { id: 'b', seq: 5 }))
    expect(group.get().items).toEqual([{ v: 2 }, { v: 2 }])
    expect(socket.sent.at(-1)).toEqual({
      type: 'join',
      data: { subscriptionId, streamName: 's', groupId: 'g', since: { epoch: 'e1', seq: 3 } },
    })
  })

  it('resumes after a reconnect with since, applying the replay at resumed', () => {
    const { socket, client } = setup()
    const group = client.group<{ v: number }>('s', 'g')
    group.subscribe(() => {})
    socket.open()
    socket.receive(hello)
    const subscriptionId = (socket.sent[0] as { data: { subscriptionId: string } }).data
      .subscriptionId
    socket.receive(
      frame(
        { type: 'sync', data: [{ v: 1 }], ids: ['a'] },
        { seq: 4, epoch: 'e1', subscriptionId },
      ),
    )
    socket.close()
    socket.open()
    expect(socket.sent.at(-1)).toMatchObject({ data: { since: { epoch: 'e1', seq: 4 } } })
    socket.receive(hello)
    socket.receive(frame({ type: 'update', data: { v: 5 } }, { id: 'a', seq: 5 }))
    expect(group.get().items).toEqual([{ v: 1 }])
    socket.receive(frame({ type: 'resumed' }, { seq: 5, epoch: 'e1', subscriptionId }))
    expect(group.get().items).toEqual([{ v: 5 }])
    expect(group.get().status).toBe('ready')
  })

  it('reconnects when the server goes quiet past 2 heartbeats + 1 s (wall clock)', () => {
    const { socket, client } = setup()
    client.group('s', 'g').subscribe(() => {})
    socket.open()
    socket.receive(hello)
    vi.advanceTimersByTime(2500)
    expect(socket.reconnects).toBe(0)
    // The watchdog looks once a second: by 4 s it has seen 3 s of silence passed.
    vi.advanceTimersByTime(1600)
    expect(socket.reconnects).toBe(1)
  })

  it('stays connected while frames keep coming, on an extended connection only', () => {
    const { socket, client } = setup()
    client.group('s', 'g').subscribe(() => {})
    socket.open()
    socket.receive(hello)
    // Heartbeats every 2 s for 10 s: each one is a sign of life, so no reconnect.
    for (let second = 0; second < 10; second += 2) {
      vi.advanceTimersByTime(2000)
      socket.receive({ type: 'ping', timestamp: Date.now() })
    }
    expect(socket.reconnects).toBe(0)
    vi.advanceTimersByTime(4100)
    expect(socket.reconnects).toBe(1)

    // A plain connection has no heartbeat: silence is no sign of a dead socket.
    const plain = setup()
    plain.client.group('s', 'g').subscribe(() => {})
    plain.socket.open()
    vi.advanceTimersByTime(60_000)
    expect(plain.socket.reconnects).toBe(0)
  })

  it('counts change frames as signs of life too, with no heartbeat among them', () => {
    const { socket, client } = setup()
    client.group('s', 'g').subscribe(() => {})
    socket.open()
    socket.receive(hello)
    for (let second = 0; second < 10; second++) {
      vi.advanceTimersByTime(1000)
      socket.receive(frame({ type: 'update', data: { v: second } }, { id: 'a', seq: second + 1 }))
    }
    expect(socket.reconnects).toBe(0)
    // Silence from 10 s. The watchdog knows the last frame's time from its check at 11 s (a
    // change frame reads no clock), so the check at 15 s is the first to see more than 3 s.
    vi.advanceTimersByTime(4000)
    expect(socket.reconnects).toBe(0)
    vi.advanceTimersByTime(1000)
    expect(socket.reconnects).toBe(1)
  })

  describe('in a background tab, whose timers run a minute apart', () => {
    /** Moves the wall clock without running a timer, as a throttled tab sees it. */
    const sleep = (ms: number) => vi.setSystemTime(Date.now() + ms)
    /**
     * A client on an extended connection, with one group held, in a page whose `online` and
     * `visibilitychange` events the test plays (`show`: the tab is visible again).
     */
    function connectedInPage() {
      const listeners = new Map<string, () => void>()
      const on = (type: string, listener: () => void) => listeners.set(type, listener)
      vi.stubGlobal('addEventListener', on)
      vi.stubGlobal('removeEventListener', () => {})
      vi.stubGlobal('document', { visibilityState: 'visible', addEventListener: on })
      const { socket, client } = setup()
      client.group('s', 'g').subscribe(() => {})
      socket.open()
      socket.receive(hello)
      return {
        socket,
        client,
        show: () => listeners.get('visibilitychange')?.(),
        fire: (type: string) => listeners.get(type)?.(),
      }
    }
    afterEach(() => {
      vi.unstubAllGlobals()
    })

    it('never replaces a socket whose frames kept coming between two checks', () => {
      const { socket } = connectedInPage()
      // A minute with no check, change frames every 10 s (no heartbeat among them), then a check.
      for (let seq = 1; seq <= 6; seq++) {
        sleep(10_000)
        socket.receive(frame({ type: 'update', data: { v: seq } }, { id: 'a', seq }))
      }
      vi.advanceTimersByTime(1000)
      expect(socket.reconnects).toBe(0)
    })

    it('replaces at once, on coming back, a socket whose heartbeat stopped while away', () => {
      const { socket, show } = connectedInPage()
      sleep(2000)
      socket.receive(frame({ type: 'update', data: { v: 1 } }, { id: 'a', seq: 1 }))
      // A throttled check counts that frame as heard just now: on its own clock, all is well.
      vi.advanceTimersByTime(1000)
      sleep(2500)
      expect(socket.reconnects).toBe(0)
      // Back on the page: 5.5 s without a heartbeat (3 s allowed) is a dead socket.
      show()
      expect(socket.sent.at(-1)).toEqual({ type: 'ping' })
      expect(socket.reconnects).toBe(1)
    })

    it('keeps, on coming back, a socket whose heartbeat kept coming and that answers its ping', () => {
      const { socket, show } = connectedInPage()
      for (let second = 0; second < 60; second += 2) {
        sleep(2000)
        socket.receive({ type: 'ping', timestamp: Date.now() })
      }
      show()
      expect(socket.sent.at(-1)).toEqual({ type: 'ping' })
      vi.advanceTimersByTime(900)
      socket.receive({ type: 'pong', timestamp: Date.now() })
      for (let waited = 0; waited <= PROBE_TIMEOUT_MS; waited += 1000) {
        vi.advanceTimersByTime(1000)
        socket.receive({ type: 'ping', timestamp: Date.now() })
      }
      expect(socket.reconnects).toBe(0)
    })

    it('replaces, on coming back, online or offline, a socket that does not answer its ping in time', () => {
      for (const event of ['visibilitychange', 'online', 'offline']) {
        const { socket, client, fire } = connectedInPage()
        // A heartbeat queued before the socket died is read on coming back: it looks fresh.
        socket.receive({ type: 'ping', timestamp: Date.now() })
        fire(event)
        fire(event)
        expect(socket.sent.filter((sent) => sent.type === 'ping')).toHaveLength(1)
        // The server's heartbeats (a socket half alive) do not answer the client's ping.
        for (let waited = 0; waited < PROBE_TIMEOUT_MS - 1000; waited += 1000) {
          vi.advanceTimersByTime(1000)
          socket.receive({ type: 'ping', timestamp: Date.now() })
        }
        vi.advanceTimersByTime(999)
        expect(socket.reconnects).toBe(0)
        vi.advanceTimersByTime(1)
        expect(socket.reconnects).toBe(1)
        expect(client.connection.get().error?.message).toBe(
          'The server did not answer a ping; reconnecting.',
        )
        client.close()
      }
    })
  })
})

describe('a plain connection', () => {
  it('skips the extra copies the engine sends per matching subscription', () => {
    const { socket, client } = setup()
    const group = client.group<{ id: string; n: number }>('s', 'g')
    group.subscribe(() => {})
    const events: unknown[] = []
    client.onEvent('s', 'g', (event) => events.push(event))
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ id: 'a', n: 1 }] }))
    const item = client.item('s', 'g', 'a')
    // The group is held: the item read joins nothing.
    item.subscribe(() => {})
    expect(socket.sent.filter((f) => f.type === 'join')).toHaveLength(1)
    const typing = frame({ type: 'event', event: { type: 'typing', data: 1 } }, { id: 'a' })
    socket.receive(typing)
    socket.receive(typing)
    expect(events).toHaveLength(2)
    expect(client.connection.get().extensions).toBe(false)
  })

  it('counts bad frames and reports them, never throwing', () => {
    const errors: unknown[] = []
    const { socket, client } = setup({ onError: (error) => errors.push(error.code) })
    client.group('s', 'g').subscribe(() => {})
    socket.open()
    socket.receive('not json')
    socket.receive(frame({ type: 'sync' }))
    expect(client.badFrames).toBe(2)
    expect(errors).toEqual(['bad_frame', 'bad_frame'])
  })

  it('ends a group whose sync it cannot use with an error, instead of loading forever', () => {
    const { socket, client } = setup({
      onError: () => {},
      getItemId: (item) => {
        if ((item as { key?: string }).key === undefined) throw new Error('no key')
        return (item as { key: string }).key
      },
    })
    const odd = client.group('s', 'odd')
    const keyed = client.group('s', 'keyed')
    odd.subscribe(() => {})
    keyed.subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: { not: 'a list' } }, { groupId: 'odd' }))
    socket.receive(
      frame({ type: 'sync', data: [{ key: 'a' }, { other: 1 }] }, { groupId: 'keyed' }),
    )
    expect(odd.get()).toMatchObject({ status: 'error', error: { code: 'bad_frame' } })
    expect(odd.get().error?.message).toBe('The sync of the group s/odd did not carry an array.')
    expect(keyed.get()).toMatchObject({ status: 'error', error: { code: 'no_item_id' } })
    expect(keyed.get().error?.message).toBe('getItemId threw for an item of s/keyed: no key')
    expect(client.badFrames).toBe(1)
  })
})

describe('bad input', () => {
  it('refuses names the engine would ignore, with a TypeError that says which', async () => {
    const { client } = setup()
    expect(() => client.group('', 'g')).toThrow(TypeError)
    expect(() => client.group(42 as never, 'g')).toThrow('stream: 42 is not')
    expect(() => client.group('s', undefined as never)).toThrow('group: undefined is not')
    // NUL joins the client's keys: 's', 'g\0x' must not read as the item x of s/g.
    expect(() => client.group('s', 'g\u0000x')).toThrow(TypeError)
    expect(() => client.item('s', 'g', '')).toThrow('id: "" is not an item id')
    expect(() => client.onEvent('', 'g', () => {})).toThrow(TypeError)
    expect(() => client.onEvent('s', 'g', 'nope' as never)).toThrow('the handler must be')
    await expect(client.mutate('s', 'g', {} as never, [], async () => {})).rejects.toThrow(
      TypeError,
    )
    expect(() => client.item('s', 'g', undefined as never)).toThrow('id: undefined is not')
    // Ops the server would refuse, or no commit function: a TypeError, and nothing was committed.
    const commit = vi.fn(async () => {})
    const badOps = [{ type: 'increment', path: 'n' }] as never
    await expect(client.mutate('s', 'g', 'a', badOps, commit)).rejects.toThrow(
      /^mutate: ops the server would refuse: /,
    )
    await expect(client.mutate('s', 'g', 'a', 'set' as never, commit)).rejects.toThrow(TypeError)
    expect(commit).not.toHaveBeenCalled()
    await expect(client.mutate('s', 'g', 'a', [], undefined as never)).rejects.toThrow(
      'mutate: commit must be a function that performs the change on your backend',
    )
    // A number is an id, as items' own id fields may be.
    expect(client.item('s', 'g', 7 as never).get().status).toBe('loading')
  })

  it('refuses a listener that is not a function, and a missing options object, with a sentence', () => {
    const { socket, client } = setup()
    expect(() => createStreamClient(undefined as never)).toThrow('url: give the stream port')
    const group = client.group('s', 'g')
    expect(() => group.subscribe(null as never)).toThrow(
      new TypeError('subscribe: the listener must be a function'),
    )
    // An item read that a held group serves, too; nothing stays held by the refused calls.
    group.subscribe(() => {})()
    const stop = group.subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ id: 'a' }] }))
    expect(() => client.item('s', 'g', 'a').subscribe('x' as never)).toThrow(
      'subscribe: the listener must be a function',
    )
    stop()
    vi.advanceTimersByTime(100)
    expect(socket.sent.map((sent) => sent.type)).toEqual(['join', 'leave'])
  })

  it('reports a server error aimed at a subscription, besides ending it', () => {
    const errors: string[] = []
    const { socket, client } = setup({ onError: (error) => errors.push(error.message) })
    const group = client.group('s', 'g')
    group.subscribe(() => {})
    socket.open()
    socket.receive(hello)
    const { subscriptionId } = (socket.sent.at(-1) as { data: { subscriptionId: string } }).data
    socket.receive({
      type: 'error',
      code: 'too_many_subscriptions',
      message: 'limit',
      subscriptionId,
    })
    expect(group.get()).toMatchObject({ status: 'error', error: { code: 'server_error' } })
    expect(errors).toEqual(['limit'])
  })

  it('ends a subscription whose sync is unreadable, instead of loading forever', () => {
    const { socket, client } = setup({ onError: () => {} })
    const group = client.group('s', 'g')
    group.subscribe(() => {})
    socket.open()
    socket.receive(hello)
    const { subscriptionId } = (socket.sent.at(-1) as { data: { subscriptionId: string } }).data
    // ids that do not match the items.
    socket.receive(
      frame(
        { type: 'sync', data: [{ a: 1 }, { a: 2 }], ids: ['a'] },
        { subscriptionId, seq: 1, epoch: 'e1' },
      ),
    )
    expect(group.get()).toMatchObject({ status: 'error', error: { code: 'bad_frame' } })
    expect(client.badFrames).toBe(1)
  })

  it('reports a change that names no item', () => {
    const errors: string[] = []
    const { socket, client } = setup({ onError: (error) => errors.push(error.code) })
    client.group('s', 'g').subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [] }))
    socket.receive(frame({ type: 'create', data: { id: 'x' } }, { id: null }))
    expect(client.badFrames).toBe(1)
    expect(errors).toEqual(['bad_frame'])
  })

  it('ends a group whose items share an id, or whose getItemId gives no usable id', () => {
    const { socket, client } = setup({
      getItemId: (item) => (item as { key: never }).key,
    })
    const twice = client.group('s', 'twice')
    const objects = client.group('s', 'objects')
    twice.subscribe(() => {})
    objects.subscribe(() => {})
    socket.open()
    socket.receive(
      frame(
        {
          type: 'sync',
          data: [
            { id: 'x', v: 1 },
            { id: 'x', v: 2 },
          ],
        },
        { groupId: 'twice' },
      ),
    )
    socket.receive(
      frame({ type: 'sync', data: [{ key: { a: 1 } }, { key: { a: 2 } }] }, { groupId: 'objects' }),
    )
    expect(twice.get()).toMatchObject({ status: 'error', error: { code: 'no_item_id' } })
    expect(twice.get().error?.message).toContain('Two items of s/twice have the id "x"')
    expect(objects.get()).toMatchObject({ status: 'error', error: { code: 'no_item_id' } })
  })

  it('keeps nothing of the changes to a group that ended in error', () => {
    const gc = (globalThis as { gc?: () => void }).gc
    if (gc === undefined) throw new Error('run with --expose-gc (the client project sets it)')
    const { socket, client } = setup()
    const group = client.group('s', 'g')
    group.subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ text: 'no id' }] }))
    expect(group.get().status).toBe('error')
    gc()
    const before = process.memoryUsage().heapUsed
    const text = 'x'.repeat(2000)
    for (let index = 0; index < 20_000; index++)
      socket.receive(frame({ type: 'update', data: { id: 'k', text: text + index } }, { id: 'k' }))
    gc()
    // Buffered, the 20,000 frames held about 40 MB.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(10_000_000)
  })

  it('keeps its own copy of the ops of a pending change', () => {
    const { socket, client } = setup()
    const group = client.group<{ id: string; n: number }>('s', 'g')
    group.subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ id: 'a', n: 1 }] }))
    const ops: unknown[] = [{ type: 'increment', path: 'n', by: 1 }]
    void client.mutate('s', 'g', 'a', ops as never, () => new Promise(() => {}))
    ops.push({ type: 'bogus' })
    socket.receive(frame({ type: 'update', data: { id: 'a', n: 5 } }, { id: 'a' }))
    expect(group.get().items[0]?.n).toBe(6)
  })
})

describe('a server that breaks the protocol', () => {
  /** A client on a socket the test plays, with its reported errors' messages and sent joins. */
  function broken(extended: boolean) {
    const errors: string[] = []
    const flushes: (() => void)[] = []
    const { socket, client } = setup({
      onError: (error) => errors.push(error.message),
      schedule: (flush) => flushes.push(flush),
    })
    const group = client.group<{ id: string; [key: string]: unknown }>('s', 'g')
    group.subscribe(() => {})
    socket.open()
    if (extended) socket.receive(hello)
    const joins = () => socket.sent.filter((each) => each.type === 'join') as Frame[]
    const subscriptionId = joins()[0]?.data.subscriptionId as string
    const flush = () => {
      for (const each of flushes.splice(0)) each()
    }
    return { socket, client, group, errors, joins, subscriptionId, flush }
  }
  type Frame = { type: string; data: Record<string, unknown> }

  it('is read as a plain engine on a plain connection: extension frames are bad frames', () => {
    const { socket, client, group, errors, flush } = broken(false)
    socket.receive(frame({ type: 'resumed' }))
    socket.receive({ type: 'error', code: 'bad_frame', message: 'x' })
    socket.receive(hello)
    // A plain engine ignores fields it does not know: this is a create, buffered until the sync.
    socket.receive(frame({ type: 'create', data: { id: 'a' } }, { id: 'a', seq: 1 }))
    flush()
    // Before: ready with no items (the resumed), the error and the late hello unseen.
    expect(group.get().status).toBe('loading')
    expect(client.badFrames).toBe(3)
    expect(errors).toHaveLength(3)
    socket.receive(frame({ type: 'sync', data: [{ id: 'b' }] }))
    flush()
    expect(group.get()).toMatchObject({ status: 'ready', items: [{ id: 'b' }, { id: 'a' }] })
  })

  it('ends a plain group whose sync it cannot read, found by its names', () => {
    const { socket, group, errors, flush } = broken(false)
    socket.receive(frame({ type: 'sync', data: [{ id: 'a' }] }, { timestamp: 'now' }))
    flush()
    expect(group.get()).toMatchObject({ status: 'error', error: { code: 'bad_frame' } })
    expect(errors).toHaveLength(1)
  })

  it('ends a subscription answered by a resumed when its join asked for a sync', () => {
    const { socket, group, errors, joins, subscriptionId, flush } = broken(true)
    expect(joins()[0]?.data.since).toBeUndefined()
    socket.receive(frame({ type: 'resumed' }, { subscriptionId, seq: 7, epoch: 'e1' }))
    flush()
    expect(group.get()).toMatchObject({ status: 'error', items: [], error: { code: 'bad_frame' } })
    expect(errors).toEqual(['The server resumed s/g, whose join asked for a sync.'])
  })

  it('asks for a whole sync when a resume comes in another epoch than the one asked', () => {
    const { socket, group, errors, joins, subscriptionId, flush } = broken(true)
    socket.receive(
      frame(
        { type: 'sync', data: [{ id: 'a', v: 'old' }] },
        { subscriptionId, seq: 5, epoch: 'e1' },
      ),
    )
    socket.close()
    socket.open()
    socket.receive({ ...hello, epoch: 'e2' })
    expect(joins().at(-1)?.data.since).toEqual({ epoch: 'e1', seq: 5 })
    socket.receive(frame({ type: 'resumed' }, { subscriptionId, seq: 5, epoch: 'e2' }))
    expect(errors).toEqual(['The server resumed s/g in epoch e2, not e1.'])
    expect(joins().at(-1)?.data.since).toBeUndefined()
    socket.receive(
      frame(
        { type: 'sync', data: [{ id: 'b', v: 'new' }] },
        { subscriptionId, seq: 1, epoch: 'e2' },
      ),
    )
    flush()
    expect(group.get()).toMatchObject({ status: 'ready', items: [{ id: 'b', v: 'new' }] })
  })

  it('applies nothing to a subscription in error until its next sync', () => {
    const { socket, group, subscriptionId, flush } = broken(true)
    socket.receive(
      frame({ type: 'sync', data: [{ id: 'a' }] }, { subscriptionId, seq: 1, epoch: 'e1' }),
    )
    socket.receive({ type: 'error', code: 'bad_frame', message: 'x', subscriptionId })
    socket.receive(frame({ type: 'create', data: { id: 'b' } }, { id: 'b', seq: 2 }))
    flush()
    expect(group.get()).toMatchObject({ status: 'error', items: [{ id: 'a' }] })
    // Its next join resumes from what it holds.
    socket.close()
    socket.open()
    socket.receive(hello)
    socket.receive(frame({ type: 'create', data: { id: 'b' } }, { id: 'b', seq: 2 }))
    socket.receive(frame({ type: 'resumed' }, { subscriptionId, seq: 2, epoch: 'e1' }))
    flush()
    expect(group.get()).toMatchObject({ status: 'ready', items: [{ id: 'a' }, { id: 'b' }] })
  })

  it('resyncs, on an extended connection, a change that carries no seq', () => {
    const { socket, client, group, joins, subscriptionId, flush } = broken(true)
    socket.receive(frame({ type: 'create', data: { id: 'ghost' } }, { id: 'ghost' }))
    expect(joins()).toHaveLength(2)
    socket.receive(
      frame({ type: 'sync', data: [{ id: 'a' }] }, { subscriptionId, seq: 10, epoch: 'e1' }),
    )
    socket.receive(frame({ type: 'delete', data: { id: 'a' } }, { id: 'a' }))
    expect(joins()).toHaveLength(3)
    expect(joins().at(-1)?.data.since).toEqual({ epoch: 'e1', seq: 10 })
    socket.receive(frame({ type: 'resumed' }, { subscriptionId, seq: 10, epoch: 'e1' }))
    flush()
    expect(group.get()).toMatchObject({ status: 'ready', items: [{ id: 'a' }] })
    expect(client.badFrames).toBe(2)
  })

  it('asks for a whole sync after a refusal, keeping no place to resume from', () => {
    const { socket, group, joins, subscriptionId, flush } = broken(true)
    socket.receive(
      frame({ type: 'sync', data: [{ id: 'a' }] }, { subscriptionId, seq: 5, epoch: 'e1' }),
    )
    socket.close()
    socket.open()
    socket.receive(hello)
    socket.receive(frame({ type: 'unauthorized' }, { subscriptionId }))
    flush()
    expect(group.get()).toMatchObject({ status: 'unauthorized', items: [] })
    socket.close()
    socket.open()
    socket.receive(hello)
    // Resumed from seq 5, its emptied cache would have missed every item.
    expect(joins().at(-1)?.data.since).toBeUndefined()
  })

  it('patches an item nested deeper than the call stack goes in the burst that brought it', () => {
    const { socket, group, errors, subscriptionId, flush } = broken(true)
    const deep = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`
    socket.receive(
      frame({ type: 'sync', data: [{ id: 'd' }] }, { subscriptionId, seq: 1, epoch: 'e1' }),
    )
    flush()
    socket.receive(
      `{"type":"stream","timestamp":1,"streamName":"s","groupId":"g","id":"d","seq":2,"event":{"type":"update","data":{"id":"d","deep":${deep}}}}`,
    )
    socket.receive(
      frame({ type: 'patch', ops: [{ type: 'set', path: 'x', value: 1 }] }, { id: 'd', seq: 3 }),
    )
    flush()
    expect(group.get().items[0]).toMatchObject({ id: 'd', x: 1 })
    expect(Object.isFrozen(group.get().items[0])).toBe(true)
    expect(errors).toEqual([])
  })
})

describe('connection state', () => {
  it('counts the attempts from zero again once a connection has been stable', () => {
    const { socket, client } = setup()
    socket.attempt = 3
    socket.open()
    expect(client.connection.get()).toMatchObject({ status: 'open', attempt: 3 })
    vi.advanceTimersByTime(BACKOFF.stableMs - 1)
    expect(client.connection.get().attempt).toBe(3)
    vi.advanceTimersByTime(1)
    expect(client.connection.get().attempt).toBe(0)
    // Not for a connection lost before.
    socket.close()
    socket.open()
    socket.close()
    vi.advanceTimersByTime(BACKOFF.stableMs)
    expect(client.connection.get()).toMatchObject({ status: 'reconnecting', attempt: 3 })
  })

  it('shows nothing of a subscription refused after a reconnect', () => {
    const { socket, client } = setup()
    const group = client.group('s', 'g')
    group.subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ id: 'a', secret: 1 }] }))
    socket.close()
    socket.open()
    socket.receive(frame({ type: 'unauthorized' }))
    expect(group.get()).toMatchObject({ status: 'unauthorized', items: [] })
    expect(group.get().byId.size).toBe(0)
  })

  it('shows no optimistic change either, once refused', () => {
    const { socket, client } = setup()
    const group = client.group('s', 'g')
    group.subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ id: 'a', n: 1 }] }))
    void client.mutate(
      's',
      'g',
      'a',
      [{ type: 'increment', path: 'n', by: 1 }],
      () => new Promise(() => {}),
    )
    socket.close()
    socket.open()
    socket.receive(frame({ type: 'unauthorized' }))
    expect(group.get().items).toEqual([])
    expect(client.item('s', 'g', 'a').get().data).toBeNull()
  })
})

describe('subscriptions kept for a sibling (plain connections)', () => {
  const leaves = (sent: Record<string, unknown>[]) => sent.filter((each) => each.type === 'leave')

  it('leaves an item kept for its group once the connection turns out extended', () => {
    const { socket, client } = setup()
    socket.open()
    const stopItem = client.item('s', 'g', 'a').subscribe(() => {})
    const stopGroup = client.group('s', 'g').subscribe(() => {})
    stopItem()
    vi.advanceTimersByTime(200)
    expect(leaves(socket.sent)).toHaveLength(0)
    socket.close()
    socket.open()
    socket.receive(hello)
    stopGroup()
    vi.advanceTimersByTime(200)
    // The item left with the lost connection; the group on its own.
    expect(leaves(socket.sent)).toHaveLength(1)
    expect(socket.sent.filter((each) => each.type === 'join')).toHaveLength(3)
  })

  it('leaves an item kept for its group when hello arrives after its linger', () => {
    const { socket, client } = setup()
    socket.open()
    const stopItem = client.item('s', 'g', 'a').subscribe(() => {})
    client.group('s', 'g').subscribe(() => {})
    stopItem()
    vi.advanceTimersByTime(200)
    socket.receive(hello)
    expect(leaves(socket.sent)).toHaveLength(1)
  })
})

describe('group snapshots', () => {
  it('are frozen plain data whose byId is built once per snapshot and survives a spread', () => {
    const { socket, client } = setup()
    const group = client.group<{ id: string; n: number }>('s', 'g')
    group.subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ id: 'a', n: 1 }] }))
    const first = group.get()
    expect(Object.isFrozen(first)).toBe(true)
    expect(Object.keys(first)).toEqual(['status', 'items', 'error', 'byId'])
    expect(first.byId).toBe(first.byId)
    expect(first.byId.get('a')).toBe(first.items[0])
    expect({ ...first }.byId.get('a')).toEqual({ id: 'a', n: 1 })
    socket.receive(frame({ type: 'create', data: { id: 'b', n: 2 } }, { id: 'b' }))
    const second = group.get()
    expect([...second.byId.keys()]).toEqual(['a', 'b'])
    expect(second.byId.get('a')).toBe(first.items[0])
    // The earlier snapshot is unchanged.
    expect([...first.byId.keys()]).toEqual(['a'])
  })

  it('take items nested deeper than the call stack goes, and their updates', () => {
    const errors: unknown[] = []
    const { socket, client } = setup({ onError: (error) => errors.push(error) })
    const group = client.group<{ id: string; deep: unknown }>('s', 'g')
    group.subscribe(() => {})
    socket.open()
    // 20,000 levels: JSON.parse takes them, a recursive walk overflows the stack.
    const deep = (leaf: number) => `${'['.repeat(20_000)}${leaf}${']'.repeat(20_000)}`
    const item = (leaf: number) => `{"id":"a","deep":${deep(leaf)}}`
    const change = (type: string, leaf: number) =>
      `{"type":"stream","timestamp":1,"streamName":"s","groupId":"g","id":"a","event":{"type":"${type}","data":${item(leaf)}}}`
    socket.receive(
      `{"type":"stream","timestamp":1,"streamName":"s","groupId":"g","id":null,"event":{"type":"sync","data":[${item(1)}]}}`,
    )
    socket.receive(change('update', 2))
    socket.receive(frame({ type: 'create', data: { id: 'b', deep: 0 } }, { id: 'b' }))
    const { status, items } = group.get()
    expect(status).toBe('ready')
    expect(items.map((each) => each.id)).toEqual(['a', 'b'])
    let level = items[0]?.deep
    for (let depth = 0; depth < 20_000; depth++) level = (level as unknown[])[0]
    expect(level).toBe(2)
    expect(errors).toEqual([])
  })
})

describe('a closed client', () => {
  it('ends what was loading and every later read with `closed`, keeps what was ready, and refuses mutate', async () => {
    const { socket, client } = setup()
    const ready = client.group('s', 'g')
    const loading = client.group('s', 'other')
    ready.subscribe(() => {})
    loading.subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ id: 'a' }] }))
    client.close()
    expect(ready.get()).toMatchObject({ status: 'ready', items: [{ id: 'a' }], error: null })
    expect(loading.get()).toMatchObject({ status: 'error', error: { code: 'closed' } })
    // Read without a listener, too (the same snapshot each time).
    expect(client.group('s', 'never').get()).toBe(client.group('s', 'other-never').get())
    expect(client.group('s', 'never').get()).toMatchObject({
      status: 'error',
      items: [],
      error: { code: 'closed' },
    })
    const later = client.item('s', 'late', 'x')
    expect(later.get()).toMatchObject({ status: 'error', data: null, error: { code: 'closed' } })
    later.subscribe(() => {})
    expect(later.get()).toMatchObject({ status: 'error', data: null, error: { code: 'closed' } })
    expect(later.get().error?.message).toBe(
      'The client is closed: create a new one to read streams again.',
    )
    const commit = vi.fn(async () => {})
    await expect(
      client.mutate('s', 'g', 'a', [{ type: 'set', path: 'n', value: 1 }], commit),
    ).rejects.toMatchObject({
      code: 'closed',
    })
    expect(commit).not.toHaveBeenCalled()
    expect(client.connection.get().status).toBe('closed')
  })

  it('starts no timer when the app lets go after close(): stops, releases, commits resolving', async () => {
    const { socket, client } = setup()
    const stop = client.group('s', 'g').subscribe(() => {})
    const stopItem = client.item('s', 'g', 'a').subscribe(() => {})
    const stopEvents = client.onEvent('s', 'g', () => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ id: 'a', n: 1 }] }))
    const { done, resolve } = pendingIncrement(client)
    client.close()
    expect(vi.getTimerCount()).toBe(0)
    // Views unsubscribing after the client (a common teardown order), a commit finishing late.
    for (const each of [stop, stopItem, stopEvents]) each()
    client.group('s', 'g').subscribe(() => {})()
    resolve()
    await done
    expect(vi.getTimerCount()).toBe(0)
  })

  it('says so to onError when asked for events, which will never come', () => {
    const errors: StreamsError[] = []
    const { client } = setup({ onError: (error) => errors.push(error) })
    client.close()
    const stop = client.onEvent('s', 'g', () => {})
    expect(errors).toMatchObject([
      { code: 'closed', message: 'onEvent(s, g) on a closed client: no event will arrive.' },
    ])
    stop()
  })

  it('leaves no timer behind (lingers, commit graces)', async () => {
    const { socket, client } = setup()
    const stop = client.group('s', 'g').subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ id: 'a', n: 1 }] }))
    await client.mutate('s', 'g', 'a', [{ type: 'increment', path: 'n', by: 1 }], async () => {})
    stop()
    expect(vi.getTimerCount()).toBeGreaterThan(1)
    client.close()
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('app code that throws', () => {
  /** Errors of app code, as the page would see them (`reportError`). */
  function reported(): unknown[] {
    const errors: unknown[] = []
    vi.stubGlobal('reportError', (error: unknown) => errors.push(error))
    return errors
  }
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  it('keeps no other listener, subscription or event handler from its call, and is seen', () => {
    const errors = reported()
    const flushes: (() => void)[] = []
    const { socket, client } = setup({ schedule: (flush) => flushes.push(flush) })
    const a = client.group('s', 'a')
    const b = client.group('s', 'b')
    const seen: string[] = []
    a.subscribe((s) => {
      if (s.status === 'ready') throw new Error('boom')
    })
    a.subscribe((s) => seen.push(`a ${s.status}`))
    b.subscribe((s) => seen.push(`b ${s.status}`))
    client.onEvent('s', 'a', () => {
      throw new Error('handler')
    })
    client.onEvent('s', 'a', (event) => seen.push(`event ${event.type}`))
    socket.open()
    socket.receive(frame({ type: 'sync', data: [] }, { groupId: 'a' }))
    socket.receive(frame({ type: 'sync', data: [] }, { groupId: 'b' }))
    for (const flush of flushes.splice(0)) flush()
    expect(seen).toEqual(['a loading', 'b loading', 'a ready', 'b ready'])
    socket.receive(frame({ type: 'event', event: { type: 'typing', data: 1 } }, { groupId: 'a' }))
    expect(seen.at(-1)).toBe('event typing')
    expect(errors.map((error) => (error as Error).message)).toEqual(['boom', 'handler'])
  })

  it('forgets nothing when a custom schedule throws once', () => {
    const errors = reported()
    let calls = 0
    const { socket, client } = setup({
      schedule: (flush) => {
        if (++calls === 1) throw new Error('scheduler down')
        flush()
      },
    })
    const a = client.group('s', 'a')
    const b = client.group('s', 'b')
    a.subscribe(() => {})
    b.subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [] }, { groupId: 'a' }))
    expect(errors.map((error) => (error as Error).message)).toEqual(['scheduler down'])
    socket.receive(frame({ type: 'sync', data: [] }, { groupId: 'b' }))
    expect(a.get().status).toBe('ready')
    expect(b.get().status).toBe('ready')
  })

  it("stops none of the client's own steps: a connection listener that throws", () => {
    const errors = reported()
    const { socket, client } = setup()
    client.group('s', 'g').subscribe(() => {})
    client.connection.subscribe((state) => {
      if (state.status === 'open') throw new Error('banner bug')
    })
    socket.open()
    expect(socket.sent.filter((sent) => sent.type === 'join')).toHaveLength(1)
    socket.receive(frame({ type: 'sync', data: [] }))
    expect(client.group('s', 'g').get().status).toBe('ready')
    client.close()
    expect(client.connection.get().status).toBe('closed')
    expect(errors.map((error) => (error as Error).message)).toEqual(['banner bug'])
  })

  it("stops none of the client's own steps: a listener that throws under a synchronous schedule", async () => {
    reported()
    const { socket, client } = setup()
    const group = client.group<{ id: string; n: number }>('s', 'g')
    const item = client.item<{ id: string; n: number }>('s', 'g', 'a')
    let broken = false
    group.subscribe(() => {
      if (broken) throw new Error('render bug')
    })
    item.subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ id: 'a', n: 1 }] }))
    socket.receive(frame({ type: 'sync', data: { id: 'a', n: 1 } }, { id: 'a' }))
    broken = true
    // The group's listener throws first: the item's own subscription still gets the change.
    socket.receive(frame({ type: 'update', data: { id: 'a', n: 2 } }, { id: 'a' }))
    socket.receive(frame({ type: 'update', data: { id: 'a', n: 2 } }, { id: 'a' }))
    expect(item.get().data?.n).toBe(2)
    // mutate still commits, and rolls back when the commit fails.
    const commit = vi.fn(async () => {
      throw new Error('backend said no')
    })
    await expect(
      client.mutate('s', 'g', 'a', [{ type: 'increment', path: 'n', by: 1 }], commit),
    ).rejects.toMatchObject({ code: 'commit_failed' })
    expect(commit).toHaveBeenCalledOnce()
    expect(group.get().items[0]?.n).toBe(2)
    expect(item.get().data?.n).toBe(2)
  })

  it('holds nothing for a listener that throws on its first call', () => {
    const { socket, client } = setup()
    socket.open()
    expect(() =>
      client.group('s', 'c').subscribe(() => {
        throw new Error('at once')
      }),
    ).toThrow('at once')
    expect(() =>
      client.item('s', 'c', 'x').subscribe(() => {
        throw new Error('item at once')
      }),
    ).toThrow('item at once')
    vi.advanceTimersByTime(200)
    const frames = socket.sent.map((f) => f.type)
    expect(frames.filter((type) => type === 'join')).toHaveLength(
      frames.filter((type) => type === 'leave').length,
    )
    expect(frames).toContain('leave')
  })
})

describe('lifecycle', () => {
  it('opens its socket with the first join, once: a client nobody uses connects nowhere', () => {
    const { socket, client } = setup()
    client.connection.subscribe(() => {})
    client.item('s', 'g', 'a').get()
    expect(socket.starts).toBe(0)
    const stop = client.group('s', 'g').subscribe(() => {})
    client.onEvent('s', 'other', () => {})
    expect(socket.starts).toBe(1)
    stop()
    vi.advanceTimersByTime(1000)
    client.group('s', 'g').subscribe(() => {})
    expect(socket.starts).toBe(1)
  })

  it('joins on the first listener and leaves after the linger, with no churn on a quick remount', () => {
    const { socket, client } = setup()
    socket.open()
    const group = client.group('s', 'g')
    const stop = group.subscribe(() => {})
    stop()
    vi.advanceTimersByTime(50)
    const again = group.subscribe(() => {})
    vi.advanceTimersByTime(500)
    expect(socket.sent.map((f) => f.type)).toEqual(['join'])
    again()
    vi.advanceTimersByTime(100)
    expect(socket.sent.map((f) => f.type)).toEqual(['join', 'leave'])
  })

  it('lets go of a key once its last user left and the linger passed: nothing is kept per key', async () => {
    const { socket, client } = setup()
    socket.open()
    const held: WeakRef<object>[] = []
    const KEYS = 50
    // (In a function of its own: an async function's suspended frame may hold its last locals.)
    const useAndLeave = (index: number): void => {
      const groupId = `g${index}`
      const { group, stop } = syncedGroup(socket, client, groupId)
      // An item read that the held group serves, as a view would make it.
      const item = client.item<{ id: string }>('s', groupId, 'a')
      const data = item.get().data
      expect(data).toEqual({ id: 'a' })
      held.push(new WeakRef(data as object), new WeakRef(group.get()))
      stop()
      vi.advanceTimersByTime(100)
      expect(group.get().status).toBe('loading')
      expect(item.get()).toEqual({ status: 'loading', data: null, error: null })
    }
    for (let index = 0; index < KEYS; index++) useAndLeave(index)
    expect(socket.sent.filter((sent) => sent.type === 'leave')).toHaveLength(KEYS)
    expect(await alive(held)).toEqual([])
    // And a key used again starts afresh, with its own join and sync.
    const again = client.group('s', 'g0')
    again.subscribe(() => {})
    expect(socket.sent.at(-1)).toMatchObject({ type: 'join', data: { groupId: 'g0' } })
    expect(again.get().status).toBe('loading')
  })

  it('keeps nothing of a left group for the stores and called stop functions an app still holds', async () => {
    const { socket, client } = setup()
    socket.open()
    const held: WeakRef<object>[] = []
    // What an app keeps: item stores memoized per id, cleanups in a field (already called).
    const kept: unknown[] = []
    const useAndLeave = (index: number): void => {
      const groupId = `g${index}`
      const { group, stop } = syncedGroup(socket, client, groupId)
      const item = client.item<{ id: string }>('s', groupId, 'a')
      const stopItem = item.subscribe(() => {})
      const stopEvents = client.onEvent('s', groupId, () => {})
      held.push(new WeakRef(group.get().items), new WeakRef(group.get()))
      for (const each of [stop, stopItem, stopEvents]) each()
      kept.push(item, stop, stopItem, stopEvents)
      vi.advanceTimersByTime(100)
      expect(item.get().status).toBe('loading')
    }
    for (let index = 0; index < 20; index++) useAndLeave(index)
    expect(socket.sent.filter((sent) => sent.type === 'leave')).toHaveLength(20)
    expect(await alive(held)).toEqual([])
    expect(kept).toHaveLength(80)
  })

  it('keeps an optimistic change rebased on another writer, and drops it once its own change lands', async () => {
    const { socket, client } = setup()
    const group = client.group<{ id: string; n: number; by?: string }>('s', 'g')
    group.subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ id: 'a', n: 1 }] }))
    const { done, resolve } = pendingIncrement(client)
    expect(group.get().items[0]).toEqual({ id: 'a', n: 2 })
    // Another writer's change: the pending increment is replayed on top of it.
    socket.receive(frame({ type: 'update', data: { id: 'a', n: 1, by: 'other' } }, { id: 'a' }))
    expect(group.get().items[0]).toEqual({ id: 'a', n: 2, by: 'other' })
    // Our change lands: the server now shows what was shown, and nothing is applied twice.
    socket.receive(frame({ type: 'update', data: { id: 'a', n: 2, by: 'other' } }, { id: 'a' }))
    expect(group.get().items[0]).toEqual({ id: 'a', n: 2, by: 'other' })
    resolve()
    await done
    vi.advanceTimersByTime(5000)
    expect(group.get().items[0]).toEqual({ id: 'a', n: 2, by: 'other' })
  })
})

describe('optimistic changes landing', () => {
  it('drops each pending change as its own change lands, several on one item', async () => {
    const { socket, client } = setup()
    const group = client.group<{ id: string; n: number }>('s', 'g')
    const seen: number[] = []
    group.subscribe((s) => s.items[0] && seen.push(s.items[0].n))
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ id: 'a', n: 1 }] }))
    const increment = [{ type: 'increment' as const, path: 'n', by: 1 }]
    void client.mutate('s', 'g', 'a', increment, () => new Promise(() => {}))
    void client.mutate('s', 'g', 'a', increment, () => new Promise(() => {}))
    // Both commits still running; their changes land one after the other.
    socket.receive(frame({ type: 'update', data: { id: 'a', n: 2 } }, { id: 'a' }))
    socket.receive(frame({ type: 'update', data: { id: 'a', n: 3 } }, { id: 'a' }))
    // Another writer's change now is the server's alone: nothing of ours is left to replay.
    socket.receive(frame({ type: 'update', data: { id: 'a', n: 10 } }, { id: 'a' }))
    // Each landing keeps what was shown: nobody is notified of an equal value.
    expect(seen).toEqual([1, 2, 3, 10])
  })

  it("gives way to the server's next value once committed, however the backend shaped it", async () => {
    const { socket, client } = setup()
    const group = client.group<{ id: string; name: string }>('s', 'g')
    group.subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ id: 'a', name: 'x' }] }))
    await client.mutate(
      's',
      'g',
      'a',
      [{ type: 'set', path: 'name', value: 'Bob ' }],
      async () => {},
    )
    expect(group.get().items[0]?.name).toBe('Bob ')
    // The backend trimmed it.
    socket.receive(frame({ type: 'update', data: { id: 'a', name: 'Bob' } }, { id: 'a' }))
    expect(group.get().items[0]?.name).toBe('Bob')
  })

  it('shows nothing of a committed change to an item another writer deleted', async () => {
    const { socket, client } = setup()
    const group = client.group<{ id: string; n: number }>('s', 'g')
    group.subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ id: 'a', n: 1 }] }))
    await client.mutate('s', 'g', 'a', [{ type: 'increment', path: 'n', by: 1 }], async () => {})
    socket.receive(frame({ type: 'delete', data: { id: 'a', n: 1 } }, { id: 'a' }))
    expect(group.get().items).toEqual([])
  })

  it("keeps what was shown when the server's value equals it: no notification, same objects", async () => {
    const { socket, client } = setup()
    const group = client.group<{ id: string; p: { name: string } }>('s', 'g')
    const item = client.item<{ id: string; p: { name: string } }>('s', 'g', 'a')
    const seen: unknown[] = []
    group.subscribe((s) => seen.push(s))
    item.subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ id: 'a', p: { name: 'old' } }] }))
    void client.mutate(
      's',
      'g',
      'a',
      [{ type: 'merge', path: 'p', value: { name: 'new' } }],
      () => new Promise(() => {}),
    )
    const shown = group.get()
    socket.receive(frame({ type: 'update', data: { id: 'a', p: { name: 'new' } } }, { id: 'a' }))
    expect(group.get()).toBe(shown)
    expect(item.get().data).toBe(shown.items[0])
    expect(seen).toHaveLength(3)
  })

  it('lands a change made before the first sync on the value the sync read, or ends on the server value after the grace', async () => {
    const { socket, client } = setup()
    const group = client.group<{ id: string; n: number }>('s', 'g')
    const seen: number[][] = []
    group.subscribe((s) => seen.push(s.items.map((item) => item.n)))
    socket.open()
    const increment = [{ type: 'increment' as const, path: 'n', by: 1 }]
    let resolve!: () => void
    const first = client.mutate(
      's',
      'g',
      'a',
      increment,
      () => new Promise<void>((r) => (resolve = r)),
    )
    // The sync was read before the write: the change shows on its value, then lands.
    socket.receive(frame({ type: 'sync', data: [{ id: 'a', n: 1 }] }))
    socket.receive(frame({ type: 'update', data: { id: 'a', n: 2 } }, { id: 'a' }))
    resolve()
    await first
    expect(seen).toEqual([[], [1], [2]])
    // Read after the write (documented): nothing tells it, the change shows on it until the
    // commit has resolved and the grace has passed; then the server's value, and only it.
    const other = client.group<{ id: string; n: number }>('s', 'h')
    other.subscribe(() => {})
    const second = client.mutate(
      's',
      'h',
      'b',
      increment,
      () => new Promise<void>((r) => (resolve = r)),
    )
    socket.receive(frame({ type: 'sync', data: [{ id: 'b', n: 2 }] }, { groupId: 'h' }))
    socket.receive(frame({ type: 'update', data: { id: 'b', n: 2 } }, { groupId: 'h', id: 'b' }))
    expect(other.get().items[0]?.n).toBe(3)
    resolve()
    await second
    vi.advanceTimersByTime(2999)
    expect(other.get().items[0]?.n).toBe(3)
    vi.advanceTimersByTime(1)
    expect(other.get().items[0]?.n).toBe(2)
  })

  it('drops a committed change that a later sync already holds', async () => {
    const { socket, client } = setup()
    await client.mutate('s', 'g', 'a', [{ type: 'increment', path: 'n', by: 1 }], async () => {})
    const group = client.group<{ id: string; n: number }>('s', 'g')
    const seen: unknown[] = []
    group.subscribe((s) => seen.push(s.items.map((item) => item.n)))
    socket.open()
    // The join went out after the commit resolved: its sync holds the change.
    socket.receive(frame({ type: 'sync', data: [{ id: 'a', n: 2 }] }))
    expect(seen).toEqual([[], [2]])
  })
})

describe('optimistic creates', () => {
  it('shows a new item at once in its group and in an item read, and removes it on rollback', async () => {
    const { socket, client } = setup()
    const group = client.group<{ id: string; text: string }>('s', 'g')
    group.subscribe(() => {})
    socket.open()
    socket.receive(frame({ type: 'sync', data: [{ id: 'a', text: 'old' }] }))
    const item = client.item<{ id: string; text: string }>('s', 'g', 'new')
    const seen: unknown[] = []
    item.subscribe((snapshot) => seen.push(snapshot.data))
    let fail: (error: Error) => void = () => {}
    const done = client.mutate(
      's',
      'g',
      'new',
      [{ type: 'set', path: '', value: { id: 'new', text: 'hi' } }],
      () =>
        new Promise((_, reject) => {
          fail = reject
        }),
    )
    expect(group.get().items).toEqual([
      { id: 'a', text: 'old' },
      { id: 'new', text: 'hi' },
    ])
    expect(group.get().byId.get('new')).toEqual({ id: 'new', text: 'hi' })
    expect(item.get().data).toEqual({ id: 'new', text: 'hi' })
    fail(new Error('no'))
    await expect(done).rejects.toMatchObject({ code: 'commit_failed' })
    expect(group.get().items).toEqual([{ id: 'a', text: 'old' }])
    expect(item.get().data).toBeNull()
    expect(seen).toEqual([null, { id: 'new', text: 'hi' }, null])
  })
})

describe('backoff', () => {
  it('grows, caps and jitters each attempt', () => {
    expect(backoffDelay(1, () => 0)).toBe(BACKOFF.baseMs / 2)
    expect(backoffDelay(1, () => 1)).toBe(BACKOFF.baseMs)
    expect(backoffDelay(3, () => 1)).toBe(BACKOFF.baseMs * 4)
    expect(backoffDelay(30, () => 1)).toBe(BACKOFF.maxMs)
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelay(4)))
    expect(delays.size).toBeGreaterThan(10)
  })
})
