import { createStreamClient, type StreamClient } from '@iii-streams/client'
import { createStreamServer, type StreamServer, silentLogger } from '@iii-streams/server'
import { act, cleanup, render, screen, waitFor } from '@testing-library/react'
import { memo, type ReactNode, StrictMode, useState } from 'react'
import { renderToString } from 'react-dom/server'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import {
  StreamProvider,
  useConnectionStatus,
  useMutation,
  useStream,
  useStreamClient,
  useStreamEvent,
} from '../index.ts'

interface Row {
  id: string
  label: string
  n: number
}

const resources: (() => Promise<void> | void)[] = []
afterEach(async () => {
  cleanup()
  for (const release of resources.splice(0).reverse()) await release()
})

async function setup(): Promise<{
  server: StreamServer
  client: StreamClient
  joins: string[]
  leaves: string[]
}> {
  const server = await createStreamServer({ port: 0, logger: silentLogger })
  resources.push(() => server.close())
  const joins: string[] = []
  const leaves: string[] = []
  server.registerFunction('t::join', async (p: { group_id: string }) => void joins.push(p.group_id))
  server.registerFunction(
    't::leave',
    async (p: { group_id: string }) => void leaves.push(p.group_id),
  )
  server.registerTrigger({ type: 'stream:join', function_id: 't::join', config: {} })
  server.registerTrigger({ type: 'stream:leave', function_id: 't::leave', config: {} })
  const client = createStreamClient({
    url: server.url,
    WebSocket: WebSocket as never,
    lingerMs: 100,
    // Store notifications reach React inside act, as a test renderer expects.
    schedule: (flush) => setTimeout(() => act(flush), 0),
  })
  resources.push(() => client.close())
  return { server, client, joins, leaves }
}

const set = (server: StreamServer, group: string, id: string, data: unknown) =>
  server.trigger({
    function_id: 'stream::set',
    payload: { stream_name: 'ui', group_id: group, item_id: id, data },
  })

describe.each([
  { mode: 'StrictMode', wrap: (node: ReactNode) => <StrictMode>{node}</StrictMode> },
  { mode: 'no StrictMode', wrap: (node: ReactNode) => node },
])('React bindings ($mode)', ({ wrap }) => {
  const mount = (client: StreamClient, node: ReactNode) =>
    render(wrap(<StreamProvider client={client}>{node}</StreamProvider>))

  it('renders a group as it arrives and changes, and an item on its own', async () => {
    const { server, client } = await setup()
    await set(server, 'g', 'a', { id: 'a', label: 'first', n: 1 })
    function List() {
      const { status, items } = useStream<Row>('ui', 'g')
      return (
        <p data-testid="list">
          {status}:{items.map((row) => row.label).join(',')}
        </p>
      )
    }
    function One() {
      const { data } = useStream<Row>('ui', 'other', 'x')
      return <p data-testid="one">{data?.label ?? 'none'}</p>
    }
    mount(
      client,
      <>
        <List />
        <One />
      </>,
    )
    await waitFor(() => expect(screen.getByTestId('list').textContent).toBe('ready:first'))
    await set(server, 'g', 'b', { id: 'b', label: 'second', n: 1 })
    await set(server, 'other', 'x', { id: 'x', label: 'item', n: 1 })
    await waitFor(() => expect(screen.getByTestId('list').textContent).toBe('ready:first,second'))
    await waitFor(() => expect(screen.getByTestId('one').textContent).toBe('item'))
  })

  it('leaves after the linger on unmount, and a remount within it reuses the join', async () => {
    const { server, client, joins, leaves } = await setup()
    function List() {
      const { status } = useStream<Row>('ui', 'life')
      return <p data-testid="life">{status}</p>
    }
    function Toggle() {
      const [shown, setShown] = useState(true)
      return (
        <>
          <button type="button" onClick={() => setShown((v) => !v)}>
            toggle
          </button>
          {shown && <List />}
        </>
      )
    }
    mount(client, <Toggle />)
    await waitFor(() => expect(screen.getByTestId('life').textContent).toBe('ready'))
    act(() => screen.getByRole('button').click())
    act(() => screen.getByRole('button').click())
    await waitFor(() => expect(screen.getByTestId('life').textContent).toBe('ready'))
    await new Promise((resolve) => setTimeout(resolve, 250))
    expect(joins).toEqual(['life'])
    expect(leaves).toEqual([])
    act(() => screen.getByRole('button').click())
    await waitFor(() => expect(leaves).toEqual(['life']))
    expect(server.connectionCount).toBe(1)
  })

  it('re-renders exactly the memoised row whose item changed, in a list of 1,000', async () => {
    const { server, client } = await setup()
    for (let i = 0; i < 1000; i++)
      await set(server, 'big', `r${i}`, { id: `r${i}`, label: `row ${i}`, n: 0 })
    const renders = new Map<string, number>()
    const RowView = memo(function RowView({ row }: { row: Row }) {
      renders.set(row.id, (renders.get(row.id) ?? 0) + 1)
      return (
        <li>
          {row.label}:{row.n}
        </li>
      )
    })
    function Table() {
      const { items } = useStream<Row>('ui', 'big')
      return (
        <ul data-testid="table">
          {items.map((row) => (
            <RowView key={row.id} row={row} />
          ))}
        </ul>
      )
    }
    mount(client, <Table />)
    await waitFor(() => expect(screen.getByTestId('table').children).toHaveLength(1000))
    const before = new Map(renders)
    await server.trigger({
      function_id: 'stream::update',
      payload: {
        stream_name: 'ui',
        group_id: 'big',
        item_id: 'r500',
        ops: [{ type: 'increment', path: 'n', by: 1 }],
      },
    })
    await waitFor(() =>
      expect(screen.getByTestId('table').children[500]?.textContent).toBe('row 500:1'),
    )
    const rerendered = [...renders]
      .filter(([id, count]) => count !== before.get(id))
      .map(([id]) => id)
    expect(rerendered).toEqual(['r500'])
  })

  it('re-renders a selecting component only when its slice changes', async () => {
    const { server, client } = await setup()
    await set(server, 'sel', 'a', { id: 'a', label: 'x', n: 0 })
    let renders = 0
    function Count() {
      renders++
      const count = useStream<Row, number>('ui', 'sel', { select: (s) => s.items.length })
      return <p data-testid="count">{count}</p>
    }
    mount(client, <Count />)
    await waitFor(() => expect(screen.getByTestId('count').textContent).toBe('1'))
    const settled = renders
    await set(server, 'sel', 'a', { id: 'a', label: 'changed', n: 1 })
    await set(server, 'sel', 'b', { id: 'b', label: 'y', n: 0 })
    await waitFor(() => expect(screen.getByTestId('count').textContent).toBe('2'))
    // One render for the new count; the label change alone rendered nothing.
    expect(renders - settled).toBeLessThanOrEqual(2)
  })

  it('hands custom events to the latest handler, filtered by type', async () => {
    const { server, client } = await setup()
    function Typing() {
      const [who, setWho] = useState('nobody')
      const [prefix, setPrefix] = useState('a')
      useStreamEvent<{ user: string }>(
        'ui',
        'room',
        (event) => setWho(`${prefix}:${event.data.user}`),
        { type: 'typing' },
      )
      return (
        <button type="button" data-testid="who" onClick={() => setPrefix('b')}>
          {who}
        </button>
      )
    }
    mount(client, <Typing />)
    const send = (type: string, user: string) =>
      server.trigger({
        function_id: 'stream::send',
        payload: { stream_name: 'ui', group_id: 'room', type, data: { user } },
      })
    await waitFor(() => expect(server.connectionCount).toBe(1))
    await new Promise((resolve) => setTimeout(resolve, 50))
    act(() => screen.getByTestId('who').click())
    await send('typing', 'bob')
    await waitFor(() => expect(screen.getByTestId('who').textContent).toBe('b:bob'))
    await send('other', 'eve')
    await send('typing', 'ann')
    await waitFor(() => expect(screen.getByTestId('who').textContent).toBe('b:ann'))
  })

  it('shows the connection and runs optimistic mutations with their state', async () => {
    const { server, client } = await setup()
    await set(server, 'm', 'c', { id: 'c', label: 'counter', n: 1 })
    function Counter() {
      const { status } = useConnectionStatus()
      const { data } = useStream<Row>('ui', 'm', 'c')
      const { mutate, error } = useMutation('ui', 'm', 'c')
      return (
        <>
          <p data-testid="state">
            {status}:{data?.n ?? '-'}:{error?.code ?? 'ok'}
          </p>
          <button
            type="button"
            onClick={() =>
              mutate([{ type: 'increment', path: 'n', by: 1 }], async () => {
                throw new Error('no')
              }).catch(() => {})
            }
          >
            fail
          </button>
        </>
      )
    }
    mount(client, <Counter />)
    await waitFor(() => expect(screen.getByTestId('state').textContent).toBe('open:1:ok'))
    act(() => screen.getByRole('button').click())
    await waitFor(() =>
      expect(screen.getByTestId('state').textContent).toBe('open:1:commit_failed'),
    )
  })
  it('selects again when the selector reads a prop that changed', async () => {
    const { server, client } = await setup()
    await set(server, 'pick', 'a', { id: 'a', label: 'A', n: 0 })
    await set(server, 'pick', 'b', { id: 'b', label: 'B', n: 0 })
    function Label({ id }: { id: string }) {
      const label = useStream<Row, string | undefined>('ui', 'pick', {
        select: (s) => s.byId.get(id)?.label,
      })
      return <p data-testid="label">{`${id}=${label ?? '-'}`}</p>
    }
    function Picker() {
      const [id, setId] = useState('a')
      return (
        <button type="button" onClick={() => setId('b')}>
          <Label id={id} />
        </button>
      )
    }
    mount(client, <Picker />)
    await waitFor(() => expect(screen.getByTestId('label').textContent).toBe('a=A'))
    act(() => screen.getByRole('button').click())
    // At once, with no change of the store in between.
    expect(screen.getByTestId('label').textContent).toBe('b=B')
  })

  it('shows initialData, byId included, until the first sync, never loading', async () => {
    const { server, client } = await setup()
    await set(server, 'init', 'a', { id: 'a', label: 'live', n: 1 })
    const seen: string[] = []
    const initialData = [{ id: 'a', label: 'initial', n: 0 }]
    function List() {
      const { status, byId } = useStream<Row>('ui', 'init', { initialData })
      const text = `${status}:${byId.get('a')?.label ?? 'missing'}`
      if (seen.at(-1) !== text) seen.push(text)
      return <p data-testid="init">{text}</p>
    }
    mount(client, <List />)
    await waitFor(() => expect(screen.getByTestId('init').textContent).toBe('ready:live'))
    expect(seen).toEqual(['ready:initial', 'ready:live'])
  })

  it("reports a rolled-back mutate through its error only, and keeps each item's state its own", async () => {
    const { server, client } = await setup()
    await set(server, 'mm', 'c1', { id: 'c1', label: 'one', n: 1 })
    await set(server, 'mm', 'c2', { id: 'c2', label: 'two', n: 5 })
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    resources.push(() => void process.off('unhandledRejection', onUnhandled))
    let rejected: unknown = null
    function Counter({ id }: { id: string }) {
      const { data } = useStream<Row>('ui', 'mm', id)
      const { mutate, mutateAsync, error } = useMutation('ui', 'mm', id)
      const fail = async () => {
        throw new Error('backend down')
      }
      return (
        <>
          <p data-testid="mm">{`${id}:${data?.n ?? '-'}:${error?.code ?? 'ok'}`}</p>
          <button
            type="button"
            onClick={() => mutate([{ type: 'increment', path: 'n', by: 1 }], fail)}
          >
            fail
          </button>
          <button
            type="button"
            onClick={() =>
              mutateAsync([{ type: 'increment', path: 'n', by: 1 }], fail).catch((error) => {
                rejected = error
              })
            }
          >
            fail async
          </button>
        </>
      )
    }
    function Switch() {
      const [id, setId] = useState('c1')
      return (
        <>
          <button type="button" onClick={() => setId('c2')}>
            switch
          </button>
          <Counter id={id} />
        </>
      )
    }
    mount(client, <Switch />)
    await waitFor(() => expect(screen.getByTestId('mm').textContent).toBe('c1:1:ok'))
    act(() => screen.getByText('fail').click())
    await waitFor(() => expect(screen.getByTestId('mm').textContent).toBe('c1:1:commit_failed'))
    act(() => screen.getByText('switch').click())
    await waitFor(() => expect(screen.getByTestId('mm').textContent).toBe('c2:5:ok'))
    act(() => screen.getByText('fail async').click())
    await waitFor(() => expect(screen.getByTestId('mm').textContent).toBe('c2:5:commit_failed'))
    expect(rejected).toMatchObject({ code: 'commit_failed' })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(unhandled).toEqual([])
  })
})

describe('outside a provider and on the server', () => {
  it('explains a missing provider', () => {
    function Lost() {
      useStreamClient()
      return null
    }
    const original = console.error
    console.error = () => {}
    try {
      expect(() => render(<Lost />)).toThrow('Wrap your app in <StreamProvider client={client}>')
    } finally {
      console.error = original
    }
  })

  it('renders loading, or initialData, on the server without joining anything', () => {
    const sent: string[] = []
    const client = createStreamClient({
      url: 'ws://127.0.0.1:1',
      transport: () => ({
        send: (text) => sent.push(text) > 0,
        start() {},
        reconnect() {},
        close() {},
        attempt: 0,
      }),
    })
    function List({ initial }: { initial?: Row[] }) {
      const { status, items, byId } = useStream<Row>(
        'ui',
        'ssr',
        initial ? { initialData: initial } : {},
      )
      return <p>{`${status}:${items.length}:${byId.get('a')?.label ?? '-'}`}</p>
    }
    const html = renderToString(
      <StreamProvider client={client}>
        <List />
        <List initial={[{ id: 'a', label: 'x', n: 1 }]} />
      </StreamProvider>,
    )
    expect(html).toBe('<p>loading:0:-</p><p>ready:1:x</p>')
    expect(sent).toEqual([])
    client.close()
  })
})
