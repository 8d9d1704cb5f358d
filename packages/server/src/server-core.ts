import type { HelloFrame } from '@iii-streams/protocol'
import type { StreamAdapter } from './adapters/adapter.ts'
import type { Connection } from './connection.ts'
import type { Hub } from './hub.ts'
import type { Logger } from './logger.ts'
import type { Registry } from './registry.ts'
import type { StreamService } from './stream-service.ts'

/** Limits of the stream port (EXTENSIONS.md `hello.limits`, and the safety limits). */
export interface ServerLimits {
  readonly maxFrameBytes: number
  readonly maxSubscriptions: number
  /** A socket whose unsent data passes this is closed with 4008. */
  readonly maxBufferedBytes: number
}

/** What every connection shares: the parts of one server. */
export interface ServerCore {
  readonly adapter: StreamAdapter
  readonly registry: Registry
  readonly service: StreamService
  readonly hub: Hub
  readonly logger: Logger
  readonly limits: ServerLimits
  readonly connections: Set<Connection>
  hello(): HelloFrame
}
