export type { JsonValue, UpdateOp } from '@iii-streams/protocol'
export {
  type ConnectionState,
  createStreamClient,
  type StreamClient,
  type StreamClientOptions,
} from './client.ts'
export { isStreamsError, StreamsError, type StreamsErrorCode } from './errors.ts'
export { createStore, type Readable, type WritableStore } from './store.ts'
export type {
  GroupSnapshot,
  ItemSnapshot,
  StreamEventMessage,
  SubscriptionStatus,
} from './subscription.ts'
export type {
  CreateTransport,
  Transport,
  TransportEvents,
  WebSocketConstructor,
} from './transport.ts'
