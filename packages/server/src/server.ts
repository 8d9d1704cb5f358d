import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import {
  cloneJson,
  EXTENSIONS_VERSION,
  findNonJson,
  type HelloFrame,
  type JsonValue,
} from '@iii-streams/protocol'
import { WebSocketServer } from 'ws'
import type { StreamAdapter } from './adapters/adapter.ts'
import { createFileAdapter } from './adapters/file.ts'
import { createMemoryAdapter } from './adapters/memory.ts'
import { createRedisAdapter } from './adapters/redis.ts'
import { CLOSE_CODES } from './close-codes.ts'
import { Connection } from './connection.ts'
import { InvocationError, messageOf } from './errors.ts'
import { Hub } from './hub.ts'
import { consoleLogger, type Logger } from './logger.ts'
import {
  type FunctionHandler,
  type FunctionOptions,
  type FunctionRef,
  Registry,
  type Trigger,
  type TriggerInput,
} from './registry.ts'
import type { ServerCore, ServerLimits } from './server-core.ts'
import { StreamService } from './stream-service.ts'
import { STREAM_TRIGGER_TYPES } from './triggers.ts'
import {
  asksForExtensions,
  authInput,
  originAllowed,
  parseQueryParams,
  readTarget,
  refuseUpgrade,
} from './upgrade.ts'
import { openWorkerPort } from './worker-port/worker-port.ts'

/** Where items live: in memory (the default, gone at exit) or in a directory (durable). */
export type AdapterOption =
  | { readonly type: 'memory' }
  | { readonly type: 'file'; readonly dir: string }
  | {
      readonly type: 'redis'
      /** `redis://[user:password@]host:port[/db]`. */
      readonly url: string
      /** Connections for writes (each runs one transaction at a time). Default 4. */
      readonly writeConnections?: number
      /** How long a group's history outlives its last change. Default 24 h. */
      readonly historyTtlMs?: number
    }
  | { readonly type: 'custom'; readonly adapter: StreamAdapter }

/**
 * Options of `createStreamServer`.
 *
 * @example
 * { port: 3112, host: '127.0.0.1', adapter: { type: 'file', dir: './data' }, authFunction: 'onAuth' }
 */
export interface StreamServerOptions {
  /** The stream port; `0` picks a free one. Default 3112. */
  readonly port?: number
  /** Default `127.0.0.1` (the engine's default is `0.0.0.0`; ours stays on loopback unless asked). */
  readonly host?: string
  readonly adapter?: AdapterOption
  /** Offer the iii-streams extensions to connections that ask. `false`: a plain engine. Default true. */
  readonly extensions?: boolean
  /** The id of a function that turns each connection's request into an auth context. */
  readonly authFunction?: string
  /** Browser origins allowed to connect (`'*'` for any); default: loopback pages only. */
  readonly allowedOrigins?: readonly string[]
  /** The heartbeat of extended connections, in ms. Default 15000. */
  readonly heartbeatMs?: number
  /** Subscriptions per connection. Default 1000. */
  readonly maxSubscriptions?: number
  /**
   * The engine's worker port for unmodified `iii-sdk` workers (49134 in the engine): a port number,
   * `0` for a free one, or `false` (the default here) for none.
   */
  readonly workerPort?: number | false
  /** Largest accepted frame in bytes. Default 1 MiB. */
  readonly maxFrameBytes?: number
  /** Unsent bytes after which a socket is closed with 4008. Default 4 MiB. */
  readonly maxBufferedBytes?: number
  readonly logger?: Logger
}

/** What a trigger call takes, as `iii-sdk`'s `trigger` does. */
export interface TriggerRequest<TInput = unknown> {
  readonly function_id: string
  readonly payload: TInput
  /** `{ type: 'void' }`: fire and forget, resolves `undefined` at once. */
  readonly action?: { readonly type: 'void' } | { readonly type: 'enqueue'; readonly queue: string }
  readonly timeoutMs?: number
  readonly metadata?: JsonValue
}

/**
 * A running stream server.
 *
 * @example
 * const server = await createStreamServer({ port: 0 })
 * await server.trigger({ function_id: 'stream::set', payload: { stream_name: 'chat', group_id: 'room-1', item_id: 'm1', data: { text: 'hi' } } })
 * console.log(server.url) // ws://127.0.0.1:PORT/
 * await server.close()
 */
export interface StreamServer {
  /** The bound stream port. */
  readonly port: number
  readonly host: string
  /** `ws://host:port/`. */
  readonly url: string
  /** The epoch of the adapter's `seq` timeline. */
  readonly epoch: string
  /** Open sockets on the stream port. */
  readonly connectionCount: number
  /** The bound worker port, or null without one. */
  readonly workerPort: number | null
  /** `ws://host:workerPort/`, or null. */
  readonly workerUrl: string | null
  /** Calls a function (a built-in `stream::*`, or a registered one) and returns its result. */
  trigger<TInput = unknown, TOutput = unknown>(request: TriggerRequest<TInput>): Promise<TOutput>
  registerFunction(id: string, handler: FunctionHandler, options?: FunctionOptions): FunctionRef
  registerTrigger(trigger: TriggerInput): Trigger
  /** Closes every socket with 1001, stops listening and flushes the store. */
  close(): Promise<void>
}

const DEFAULTS = {
  port: 3112,
  host: '127.0.0.1',
  heartbeatMs: 15_000,
  maxSubscriptions: 1000,
  maxFrameBytes: 1024 * 1024,
  maxBufferedBytes: 4 * 1024 * 1024,
  /** ws's own default is 16384; stated here so the limit is explicit. */
  maxFragments: 1024,
} as const

/**
 * Starts a stream server: the engine's stream port, its `stream::*` functions and triggers, over a
 * memory or file adapter.
 *
 * @example
 * const server = await createStreamServer({ port: 3112, adapter: { type: 'file', dir: './data' } })
 * server.registerTrigger({ type: 'stream:join', function_id: 'onJoin', config: {} })
 */
export async function createStreamServer(options: StreamServerOptions = {}): Promise<StreamServer> {
  const logger = options.logger ?? consoleLogger
  const extensions = options.extensions ?? true
  const heartbeatMs = options.heartbeatMs ?? DEFAULTS.heartbeatMs
  const limits: ServerLimits = {
    maxFrameBytes: options.maxFrameBytes ?? DEFAULTS.maxFrameBytes,
    maxSubscriptions: options.maxSubscriptions ?? DEFAULTS.maxSubscriptions,
    maxBufferedBytes: options.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes,
  }
  const adapter = await openAdapter(options.adapter ?? { type: 'memory' }, logger)
  const registry = new Registry(STREAM_TRIGGER_TYPES)
  const service = new StreamService(adapter, registry, logger)
  service.register()
  // The 0.22/0.23 SDKs announce themselves with this call (void); there is nothing to record.
  registry.registerFunction('engine::workers::register', async () => null)
  const hub = new Hub()
  const core: ServerCore = {
    adapter,
    registry,
    service,
    hub,
    logger,
    limits,
    connections: new Set(),
    hello: (): HelloFrame => ({
      type: 'hello',
      version: EXTENSIONS_VERSION,
      epoch: adapter.epoch,
      heartbeatMs,
      limits: { maxFrameBytes: limits.maxFrameBytes, maxSubscriptions: limits.maxSubscriptions },
    }),
  }
  const unsubscribeChanges = adapter.subscribe((message) => hub.dispatch(message))
  // Changes may have been missed (or the store's history lost): every client resyncs, resuming
  // from its last `seq` where the history allows.
  const unsubscribeGaps =
    adapter.onGap?.((reason) => {
      for (const connection of core.connections) connection.close(CLOSE_CODES.resync, reason)
    }) ?? (() => {})
  const unsubscribe = () => {
    unsubscribeChanges()
    unsubscribeGaps()
  }

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxFrameBytes,
    maxFragments: DEFAULTS.maxFragments,
    perMessageDeflate: false,
    clientTracking: false,
  } as ConstructorParameters<typeof WebSocketServer>[0])

  const http = createServer((_request, response) => {
    response.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', Upgrade: 'websocket' })
    response.end('This is an iii stream port: connect with a WebSocket.\n')
  })
  http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy())
    void upgrade(request, socket, head).catch((error) => {
      logger.error(`upgrade failed: ${messageOf(error)}`)
      refuseUpgrade(socket, 500, 'Internal Server Error', 'The upgrade failed.\n')
    })
  })

  async function upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const origin = request.headers.origin
    if (!originAllowed(origin, options.allowedOrigins)) {
      logger.warn(`refused a socket from origin ${origin}`)
      return refuseUpgrade(
        socket,
        403,
        'Forbidden',
        'This origin may not connect to this stream port.\n',
      )
    }
    const target = readTarget(request.url, extensions)
    if (target === null)
      return refuseUpgrade(socket, 404, 'Not Found', 'Only / is a stream endpoint.\n')
    if (target === 'bad')
      return refuseUpgrade(socket, 400, 'Bad Request', 'The stream path is not valid.\n')
    const input = authInput(request, target)
    const context = options.authFunction ? await authenticate(options.authFunction, input) : null
    if (socket.destroyed) return
    const extended = extensions && asksForExtensions(parseQueryParams(target.rawQuery))
    wss.handleUpgrade(request, socket, head, (ws) => {
      const connection = new Connection(ws, core, {
        extended,
        context,
        addr: input.addr,
        ...(target.pathJoin ? { pathJoin: target.pathJoin } : {}),
      })
      core.connections.add(connection)
    })
  }

  /** The engine's fail-open rule: any failure upgrades with no context. */
  async function authenticate(functionId: string, input: unknown): Promise<unknown> {
    try {
      const result = await registry.invoke(functionId, input)
      if (typeof result !== 'object' || result === null || Array.isArray(result)) {
        logger.warn(`auth function ${functionId} returned no object; connecting without context`)
        return null
      }
      return (result as { context?: unknown }).context ?? null
    } catch (error) {
      logger.warn(
        `auth function ${functionId} failed (connecting without context): ${messageOf(error)}`,
      )
      return null
    }
  }

  const host = options.host ?? DEFAULTS.host
  const urlHost = host.includes(':') ? `[${host}]` : host
  let workers: Awaited<ReturnType<typeof openWorkerPort>> | null = null
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject)
      http.listen(options.port ?? DEFAULTS.port, host, () => {
        http.off('error', reject)
        resolve()
      })
    })
    if (options.workerPort !== undefined && options.workerPort !== false) {
      workers = await openWorkerPort(options.workerPort, host, {
        registry,
        logger,
        trigger: (request) => trigger(registry, request as TriggerRequest, logger),
      })
    }
  } catch (error) {
    // Nothing is left open behind a server that could not start (a Redis connection would keep
    // the process alive).
    if (http.listening) await new Promise((resolve) => http.close(resolve))
    unsubscribe()
    await adapter.close()
    throw error
  }
  const address = http.address() as AddressInfo

  const heartbeat = setInterval(() => {
    const now = Date.now()
    for (const connection of core.connections) connection.heartbeat(now, heartbeatMs)
  }, heartbeatMs)
  heartbeat.unref()

  let closing: Promise<void> | undefined
  return {
    port: address.port,
    host,
    url: `ws://${urlHost}:${address.port}/`,
    get epoch() {
      return adapter.epoch
    },
    get connectionCount() {
      return core.connections.size
    },
    workerPort: workers?.port ?? null,
    workerUrl: workers ? `ws://${urlHost}:${workers.port}/` : null,
    trigger: (request) => trigger(registry, request, logger) as never,
    registerFunction: (id, handler, functionOptions) =>
      registry.registerFunction(id, handler, functionOptions),
    registerTrigger: (input) => registry.registerTrigger(input),
    close() {
      closing ??= Promise.all([
        workers?.close(),
        shutDown(http, core, heartbeat, unsubscribe),
      ]).then(() => {})
      return closing
    },
  }
}

async function trigger(
  registry: Registry,
  request: TriggerRequest,
  logger: Logger,
): Promise<unknown> {
  if (typeof request !== 'object' || request === null || typeof request.function_id !== 'string') {
    throw new TypeError('trigger takes { function_id, payload }.')
  }
  const problem = findNonJson(request.payload, 'payload', { omitUndefined: true })
  if (problem !== null) {
    throw new InvocationError({
      code: 'deserialization_error',
      message: `Failed to deserialize input for ${request.function_id}: ${problem}`,
      function_id: request.function_id,
    })
  }
  if (request.action?.type === 'enqueue') {
    throw new InvocationError({
      code: 'enqueue_error',
      message: 'This server has no queues; call without an action or with { type: "void" }.',
      function_id: request.function_id,
    })
  }
  const call = registry.invoke(request.function_id, request.payload, request.metadata)
  if (request.action?.type === 'void') {
    call.catch((error) => logger.warn(`${request.function_id} (void) failed: ${messageOf(error)}`))
    return undefined
  }
  const result = await withTimeout(call, request.timeoutMs, request.function_id)
  // The caller gets its own copy, as from the engine: mutating it cannot touch the store.
  return result === undefined || findNonJson(result, 'result', { omitUndefined: true }) !== null
    ? result
    : cloneJson(result as JsonValue)
}

async function withTimeout<T>(
  call: Promise<T>,
  timeoutMs: number | undefined,
  functionId: string,
): Promise<T> {
  if (timeoutMs === undefined) return call
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new InvocationError({
            code: 'TIMEOUT',
            message: `${functionId} timed out after ${timeoutMs} ms`,
            function_id: functionId,
          }),
        ),
      timeoutMs,
    )
  })
  try {
    return await Promise.race([call, timeout])
  } finally {
    clearTimeout(timer)
  }
}

async function openAdapter(option: AdapterOption, logger: Logger): Promise<StreamAdapter> {
  switch (option.type) {
    case 'memory':
      return createMemoryAdapter()
    case 'file':
      return createFileAdapter({ dir: option.dir })
    case 'redis':
      return createRedisAdapter({ ...option, logger })
    case 'custom':
      return option.adapter
    default:
      throw new TypeError(
        `Unknown adapter type "${String((option as { type: unknown }).type)}": use memory, file or redis.`,
      )
  }
}

async function shutDown(
  http: Server,
  core: ServerCore,
  heartbeat: NodeJS.Timeout,
  unsubscribe: () => void,
): Promise<void> {
  clearInterval(heartbeat)
  const stopped = new Promise<void>((resolve) => http.close(() => resolve()))
  for (const connection of core.connections)
    connection.close(CLOSE_CODES.goingAway, 'server shutting down')
  http.closeIdleConnections()
  // Peers get 2 s to answer the close handshake; then their sockets are cut.
  const deadline = Date.now() + 2000
  while (core.connections.size > 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20))
  for (const connection of core.connections) connection.terminate()
  await stopped
  unsubscribe()
  await core.adapter.close()
}
