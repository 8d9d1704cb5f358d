import { describe, expectTypeOf, it } from 'vitest'
import WebSocket from 'ws'
import {
  type ConnectionState,
  createStreamClient,
  type GroupSnapshot,
  type ItemSnapshot,
  type StreamsError,
} from '../index.ts'

interface Message {
  id: string
  text: string
}

describe('public generics', () => {
  const client = createStreamClient({ url: 'ws://localhost:3112' })

  it('flow from the call to the snapshot', () => {
    const messages = client.group<Message>('chat', 'room-1')
    expectTypeOf(messages.get()).toEqualTypeOf<GroupSnapshot<Message>>()
    expectTypeOf(messages.get().items).toEqualTypeOf<readonly Message[]>()
    expectTypeOf(messages.get().byId.get('m1')).toEqualTypeOf<Message | undefined>()
    expectTypeOf(messages.get().error).toEqualTypeOf<StreamsError | null>()
    const user = client.item<{ name: string }>('presence', 'room-1', 'u1')
    expectTypeOf(user.get()).toEqualTypeOf<ItemSnapshot<{ name: string }>>()
    expectTypeOf(user.get().data).toEqualTypeOf<{ name: string } | null>()
    messages.subscribe((snapshot) => {
      expectTypeOf(snapshot.items[0]).toEqualTypeOf<Message | undefined>()
    })
  })

  it('type events, connection states and statuses as closed unions', () => {
    client.onEvent<{ user: string }>('chat', 'room-1', (event) => {
      expectTypeOf(event.data).toEqualTypeOf<{ user: string }>()
      expectTypeOf(event.id).toEqualTypeOf<string | null>()
    })
    expectTypeOf(client.connection.get()).toEqualTypeOf<ConnectionState>()
    expectTypeOf(client.connection.get().status).toEqualTypeOf<
      'connecting' | 'open' | 'reconnecting' | 'closed'
    >()
    expectTypeOf(client.group('s', 'g').get().status).toEqualTypeOf<
      'loading' | 'ready' | 'unauthorized' | 'error'
    >()
  })

  it('refuses ops that are not update ops', () => {
    // @ts-expect-error: 'multiply' is not an op type
    void client.mutate('s', 'g', 'i', [{ type: 'multiply', path: 'n', by: 2 }], async () => {})
  })

  it('take what users pass: ws in Node, numeric ids, a synchronous commit, options left undefined', () => {
    createStreamClient({ url: 'ws://localhost:3112', WebSocket })
    createStreamClient({ url: 'ws://localhost:3112', WebSocket: globalThis.WebSocket })
    const token: string | undefined = undefined
    createStreamClient({
      url: 'ws://localhost:3112',
      auth: token === undefined ? undefined : () => token,
      onError: undefined,
    })
    expectTypeOf(
      client.item<Message>('chat', 'room-1', 42).get().data,
    ).toEqualTypeOf<Message | null>()
    void client.mutate('s', 'g', 7, [{ type: 'set', path: 'n', value: 1 }], () => {})
  })
})
