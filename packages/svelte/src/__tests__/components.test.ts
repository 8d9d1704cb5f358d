import { render, screen, waitFor } from '@testing-library/svelte'
import { describe, expect, it } from 'vitest'
import { useStreamGroup } from '../runes.ts'
import { countJoins, eventually, send, set, startClient, startServer, until } from './_harness.ts'
import ConnectionView from './fixtures/ConnectionView.svelte'
import EventView from './fixtures/EventView.svelte'
import GroupList from './fixtures/GroupList.svelte'
import ItemView from './fixtures/ItemView.svelte'
import RunesView from './fixtures/RunesView.svelte'
import WithClient from './fixtures/WithClient.svelte'

const text = (testId: string) => screen.getByTestId(testId).textContent

describe('$store in components', () => {
  it('renders a group from the context client and follows its changes', async () => {
    const server = await startServer()
    await set(server, 'room-1', 'm1', { id: 'm1', text: 'first' })
    const client = startClient(server)
    render(WithClient, { client, child: GroupList, group: 'room-1' })
    expect(text('status')).toBe('loading')
    await screen.findByText('first')
    expect(text('status')).toBe('ready')
    await set(server, 'room-1', 'm2', { id: 'm2', text: 'second' })
    await screen.findByText('second')
    await set(server, 'room-1', 'm1', { id: 'm1', text: 'first, edited' })
    await screen.findByText('first, edited')
    expect(screen.getAllByRole('listitem').map((li) => li.textContent)).toEqual([
      'first, edited',
      'second',
    ])
  })

  it('takes an explicit client instead of the context', async () => {
    const server = await startServer()
    await set(server, 'room-1', 'm1', { id: 'm1', text: 'explicit' })
    render(GroupList, { client: startClient(server), group: 'room-1' })
    await screen.findByText('explicit')
  })

  it('says what to do when no client was set', () => {
    expect(() => render(GroupList, { group: 'room-1' })).toThrow(
      'No iii-streams client here: call setStreamClient(client) in a parent component, or pass the client as the last argument.',
    )
  })

  it('leaves after the linger once unmounted; a remount within it does not join again', async () => {
    const server = await startServer()
    const counts = countJoins(server)
    await set(server, 'room-1', 'm1', { id: 'm1', text: 'hello' })
    const client = startClient(server, { lingerMs: 300 })
    const props = { client, child: GroupList, group: 'room-1' }
    const first = render(WithClient, props)
    await screen.findByText('hello')
    first.unmount()
    const second = render(WithClient, props)
    screen.getByText('hello') // still joined: the snapshot is there at once
    second.unmount()
    const unmountedAt = Date.now()
    await eventually(() => expect(counts.leaves).toEqual(['room-1']))
    expect(Date.now() - unmountedAt).toBeGreaterThanOrEqual(290)
    expect(counts.joins).toEqual(['room-1'])
  })

  it('renders an item (null data when missing), and follows a changed id prop', async () => {
    const server = await startServer()
    const counts = countJoins(server)
    await set(server, 'room-2', 'b', { id: 'b', text: 'bee' })
    const client = startClient(server)
    const { rerender } = render(WithClient, { client, child: ItemView, group: 'room-1', id: 'a' })
    await waitFor(() => expect(text('item')).toBe('ready: none'))
    await set(server, 'room-1', 'a', { id: 'a', text: 'now here' })
    await waitFor(() => expect(text('item')).toBe('ready: now here'))
    await rerender({ group: 'room-2', id: 'b' })
    await waitFor(() => expect(text('item')).toBe('ready: bee'))
    await eventually(() => expect(counts.leaves).toEqual(['room-1/a']))
  })

  it('renders the latest custom event', async () => {
    const server = await startServer()
    const client = startClient(server)
    render(WithClient, { client, child: EventView, group: 'room-1' })
    expect(text('event')).toBe('no event')
    // The events store holds the group's join: once the group is ready, events reach it.
    await until(client.group('chat', 'room-1'), (s) => s.status === 'ready')
    await send(server, 'room-1', 'typing', { user: 'ann' })
    await waitFor(() => expect(text('event')).toBe('typing by ann'))
    await send(server, 'room-1', 'stopped', { user: 'bob' })
    await waitFor(() => expect(text('event')).toBe('stopped by bob'))
  })

  it('renders the connection status', async () => {
    const server = await startServer()
    const client = startClient(server)
    render(WithClient, { client, child: ConnectionView })
    expect(text('connection')).toBe('connecting')
    // The socket opens with the first subscription.
    const stop = client.group('chat', 'room-1').subscribe(() => {})
    await waitFor(() => expect(text('connection')).toBe('open'))
    client.close()
    await waitFor(() => expect(text('connection')).toBe('closed'))
    stop()
  })
})

describe('the runes form (.current)', () => {
  it('renders group, item, event and connection, follows changes, and leaves when unmounted', async () => {
    const server = await startServer()
    const counts = countJoins(server)
    await set(server, 'room-1', 'm1', { id: 'm1', text: 'one' })
    const client = startClient(server)
    const { unmount } = render(WithClient, { client, child: RunesView, group: 'room-1' })
    await waitFor(() => expect(text('group')).toBe('ready: one'))
    expect(text('connection')).toBe('open')
    await waitFor(() => expect(text('item')).toBe('one'))
    await set(server, 'room-1', 'm1', { id: 'm1', text: 'uno' })
    await waitFor(() => expect(text('item')).toBe('uno'))
    expect(text('group')).toBe('ready: uno')
    await send(server, 'room-1', 'typing', { user: 'ann' })
    await waitFor(() => expect(text('event')).toBe('typing'))
    await set(server, 'room-1', 'm2', { id: 'm2', text: 'two' })
    await waitFor(() => expect(text('group')).toBe('ready: uno, two'))
    await set(server, 'room-1', 'm1', { id: 'm1', text: 'eins' })
    await waitFor(() => expect(text('item')).toBe('eins'))
    // The item is read from the group the component already holds: one join.
    expect(counts.joins).toEqual(['room-1'])
    unmount()
    await eventually(() => expect(counts.leaves).toEqual(['room-1']))
  })
  it('reads .current outside an effect without joining', async () => {
    const server = await startServer()
    const counts = countJoins(server)
    await set(server, 'room-1', 'm1', { id: 'm1', text: 'one' })
    const client = startClient(server)
    const room = useStreamGroup('chat', 'room-1', client)
    expect(room.current).toMatchObject({ status: 'loading', items: [] })
    await new Promise((resolve) => setTimeout(resolve, 100))
    // Not even a socket: it opens with the first join.
    expect(server.connectionCount).toBe(0)
    expect(counts.joins).toEqual([])
  })
})
