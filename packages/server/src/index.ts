export type {
  ChangeMessage,
  GroupRef,
  Stored,
  StreamAdapter,
  StreamSummary,
  WritePlan,
} from './adapters/adapter.ts'
export { HISTORY_LIMITS } from './adapters/adapter.ts'
export { createFileAdapter, type FileAdapterOptions } from './adapters/file.ts'
export { createMemoryAdapter } from './adapters/memory.ts'
export {
  createRedisAdapter,
  REDIS_CHANNEL,
  type RedisAdapterOptions,
  RedisUnavailableError,
} from './adapters/redis.ts'
export { CLOSE_CODES } from './close-codes.ts'
export { InvocationError, isInvocationError } from './errors.ts'
export { consoleLogger, type Logger, silentLogger } from './logger.ts'
export type {
  FunctionHandler,
  FunctionOptions,
  FunctionRef,
  RegisteredTrigger,
  Trigger,
  TriggerInput,
} from './registry.ts'
export {
  type AdapterOption,
  createStreamServer,
  type StreamServer,
  type StreamServerOptions,
  type TriggerRequest,
} from './server.ts'
export type { DeleteResult, ListAllResult, SetResult, UpdateResult } from './stream-service.ts'
export type { JoinLeavePayload, StreamTriggerConfig } from './triggers.ts'
export type { StreamAuthInput } from './upgrade.ts'
