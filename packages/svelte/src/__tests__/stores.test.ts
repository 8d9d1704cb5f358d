import type { StreamEventMessage } from '@iii-streams/client'
import { describe, expect, it, vi } from 'vitest'
import { connectionStatus, streamEvents, streamGroup, streamItem } from '../index.ts'
import { countJoins, eventually, send, set, startClient, startServer, until } from './_harness.ts'

describe('stores with .subscribe()', () => {
  it('streamGroup is the client group store: called at once, then on every change', async () => {
    const server = await startServer()
    await set(server, 'room-1', 'm1', { id: 'm1', text: 'a' })
    const client = startClient(server)
    const store = streamGroup<{ text: string }>('chat', 'room-1', client)
    const seen: string[] = []
    const stop = store.subscribe(({ status, items }) =>
      seen.push(`${status}:${items.map((item) => item.text).join()}`),
    )
    expect(seen).toEqual(['loading:'])
    await until(store, (s) => s.status === 'ready')
    await set(server, 'room-1', 'm2', { id: 'm2', text: 'b' })
    await until(store, (s) => s.items.length === 2)
    expect(seen).toEqual(['loading:', 'ready:a', 'ready:a,b'])
    expect(typeof stop).toBe('function')
    stop()
  })

  it('streamItem is the client item store', async () => {
    const server = await startServer()
    const client = startClient(server)
    const store = streamItem<{ text: string }>('chat', 'room-1', 'm1', client)
    const seen: unknown[] = []
    const stop = store.subscribe(({ status, data }) => seen.push([status, data]))
    await until(store, (s) => s.status === 'ready')
    await set(server, 'room-1', 'm1', { id: 'm1', text: 'x' })
    await until(store, (s) => s.data !== null)
    expect(seen).toEqual([
      ['loading', null],
      ['ready', null],
      ['ready', { id: 'm1', text: 'x' }],
    ])
    stop()
  })

  it('streamEvents listens only while subscribed, shares one handler, and forgets after', async () => {
    const server = await startServer()
    const counts = countJoins(server)
    const client = startClient(server)
    const onEvent = vi.spyOn(client, 'onEvent')
    const store = streamEvents<{ user: string }>('chat', 'room-1', client)
    expect(onEvent).not.toHaveBeenCalled()

    const a: (StreamEventMessage<{ user: string }> | null)[] = []
    const b: (StreamEventMessage<{ user: string }> | null)[] = []
    const stopA = store.subscribe((event) => a.push(event))
    const stopB = store.subscribe((event) => b.push(event))
    expect(onEvent).toHaveBeenCalledTimes(1)
    expect([a, b]).toEqual([[null], [null]])

    await until(client.group('chat', 'room-1'), (s) => s.status === 'ready')
    // Two events in one go: a subscriber sees both, `get()` the latest.
    await Promise.all([
      send(server, 'room-1', 'typing', { user: 'ann' }),
      send(server, 'room-1', 'typing', { user: 'bob' }),
    ])
    await eventually(() => expect(b).toHaveLength(3))
    expect(a.map((event) => event?.data.user ?? null)).toEqual([null, 'ann', 'bob'])
    expect(store.get()).toEqual({ type: 'typing', data: { user: 'bob' }, id: null })

    stopA()
    stopA()
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(counts.leaves).toEqual([])
    stopB()
    expect(store.get()).toBeNull()
    await eventually(() => expect(counts.leaves).toEqual(['room-1']))

    const late: unknown[] = []
    store.subscribe((event) => late.push(event))()
    expect(late).toEqual([null])
    expect(onEvent).toHaveBeenCalledTimes(2)
  })

  it('connectionStatus is the client connection store', async () => {
    const server = await startServer()
    const client = startClient(server)
    const store = connectionStatus(client)
    expect(store).toBe(client.connection)
    const statuses: string[] = []
    // Also called when `extensions` turns on: keep the changes of `status` only.
    const stop = store.subscribe(
      ({ status }) => statuses.at(-1) !== status && statuses.push(status),
    )
    // The socket opens with the first subscription.
    const leave = client.group('chat', 'room-1').subscribe(() => {})
    await until(store, (s) => s.status === 'open')
    client.close()
    expect(statuses).toEqual(['connecting', 'open', 'closed'])
    stop()
    leave()
  })

  it('needs a component to read the context client from', () => {
    expect(() => streamGroup('chat', 'room-1')).toThrow(/component initiali[sz]ation/)
  })
})
