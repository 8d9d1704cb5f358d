import { randomUUID } from 'node:crypto'
import type { WebSocket } from 'ws'
import { InvocationError, messageOf } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { FunctionRef, Registry, Trigger } from '../registry.ts'
import { parseWireJson, toWireJson } from '../wire-json.ts'

/** What a worker session needs of its server. */
export interface WorkerHost {
  readonly registry: Registry
  readonly logger: Logger
  /** Runs a call as `server.trigger` does (void, enqueue, JSON checks). */
  trigger(request: {
    function_id: string
    payload: unknown
    action?: unknown
    metadata?: unknown
  }): Promise<unknown>
}

type Message = Record<string, unknown> & { type?: unknown }

interface PendingCall {
  resolve(value: unknown): void
  reject(error: unknown): void
}

/**
 * One connected `iii-sdk` worker (STREAM-PROTOCOL.md §7): the functions and triggers it registered
 * (removed when it goes), the calls it makes, and the calls it serves.
 */
export class WorkerSession {
  readonly workerId = randomUUID()
  readonly #functions = new Map<string, FunctionRef>()
  readonly #triggers = new Map<string, Trigger>()
  readonly #pending = new Map<string, PendingCall>()
  #closed = false

  constructor(
    private readonly ws: WebSocket,
    private readonly host: WorkerHost,
  ) {
    ws.on('message', (data) => this.#receive(String(data)))
    ws.on('close', () => this.#close())
    ws.on('error', (error) => host.logger.warn(`worker ${this.workerId}: ${messageOf(error)}`))
    this.#send({ type: 'workerregistered', worker_id: this.workerId, reattach_token: randomUUID() })
  }

  /** Calls a function this worker registered; settles with its `invocationresult`. */
  call(functionId: string, data: unknown, metadata: unknown): Promise<unknown> {
    if (this.#closed) return Promise.reject(stopped(functionId))
    const invocationId = randomUUID()
    return new Promise((resolve, reject) => {
      this.#pending.set(invocationId, { resolve, reject })
      this.#send({
        type: 'invokefunction',
        invocation_id: invocationId,
        function_id: functionId,
        data,
        ...(metadata === undefined ? {} : { metadata }),
      })
    })
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason)
  }

  #receive(text: string): void {
    let message: Message
    try {
      message = parseWireJson(text) as Message
    } catch {
      this.host.logger.warn(`worker ${this.workerId} sent a frame that is not JSON; ignored`)
      return
    }
    if (typeof message !== 'object' || message === null) return
    switch (message.type) {
      case 'registerfunction':
        this.#registerFunction(message)
        return
      case 'unregisterfunction':
        this.#functions.get(String(message.id))?.unregister()
        this.#functions.delete(String(message.id))
        return
      case 'registertrigger':
        this.#registerTrigger(message)
        return
      case 'unregistertrigger':
        this.#triggers.get(String(message.id))?.unregister()
        this.#triggers.delete(String(message.id))
        return
      case 'invokefunction':
        void this.#invoke(message)
        return
      case 'invocationresult':
        this.#settle(message)
        return
      case 'ping':
        this.#send({ type: 'pong' })
        return
      default:
        // reattach, registertriggertype, unregistertriggertype and anything newer: as the engine,
        // a dev server need not act on them (the SDK registers everything again on reconnect).
        return
    }
  }

  #registerFunction(message: Message): void {
    const id = message.id
    if (typeof id !== 'string' || id === '') return
    this.#functions.get(id)?.unregister()
    try {
      const ref = this.host.registry.registerFunction(
        id,
        (data, metadata) => this.call(id, data, metadata),
        {},
        this.workerId,
      )
      this.#functions.set(id, ref)
    } catch (error) {
      this.host.logger.warn(`worker ${this.workerId} cannot register ${id}: ${messageOf(error)}`)
      this.#send({
        type: 'registrationrejected',
        code: 'FUNCTION_NAMESPACE_CONFLICT',
        namespace: 'default',
        function_id: id,
        owner_worker_id: null,
      })
    }
  }

  #registerTrigger(message: Message): void {
    const id = String(message.id)
    const type = message.trigger_type ?? message.type
    try {
      const trigger = this.host.registry.registerTrigger({
        type: String(type),
        function_id: String(message.function_id),
        config: message.config,
        ...(isObject(message.metadata) ? { metadata: message.metadata } : {}),
      })
      this.#triggers.set(id, trigger)
    } catch (error) {
      this.#send({
        type: 'triggerregistrationresult',
        id,
        trigger_type: type,
        function_id: message.function_id,
        error: { code: 'trigger_registration_failed', message: messageOf(error) },
      })
    }
  }

  async #invoke(message: Message): Promise<void> {
    const functionId = String(message.function_id)
    const invocationId =
      typeof message.invocation_id === 'string' ? message.invocation_id : undefined
    // As the engine does, the caller's id travels in object payloads.
    const data = isObject(message.data)
      ? { ...message.data, _caller_worker_id: this.workerId }
      : message.data
    const action = invocationId === undefined ? { type: 'void' } : message.action
    try {
      const result = await this.host.trigger({
        function_id: functionId,
        payload: data,
        ...(action === undefined ? {} : { action }),
        ...(message.metadata === undefined ? {} : { metadata: message.metadata }),
      })
      if (invocationId === undefined) return
      this.#send({
        type: 'invocationresult',
        invocation_id: invocationId,
        function_id: functionId,
        ...(result === undefined ? {} : { result }),
      })
    } catch (error) {
      if (invocationId === undefined) {
        this.host.logger.warn(
          `${functionId} (void, from worker ${this.workerId}) failed: ${messageOf(error)}`,
        )
        return
      }
      const code = error instanceof InvocationError ? error.code : 'invocation_failed'
      this.#send({
        type: 'invocationresult',
        invocation_id: invocationId,
        function_id: functionId,
        error: { code, message: messageOf(error) },
      })
    }
  }

  #settle(message: Message): void {
    const pending = this.#pending.get(String(message.invocation_id))
    if (pending === undefined) return
    this.#pending.delete(String(message.invocation_id))
    const error = message.error
    if (isObject(error)) {
      pending.reject(
        new InvocationError({
          code: typeof error.code === 'string' ? error.code : 'invocation_failed',
          message:
            typeof error.message === 'string' ? error.message : 'The worker reported an error.',
          function_id: String(message.function_id),
        }),
      )
    } else pending.resolve(message.result)
  }

  #close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const ref of this.#functions.values()) ref.unregister()
    for (const trigger of this.#triggers.values()) trigger.unregister()
    this.#functions.clear()
    this.#triggers.clear()
    for (const pending of this.#pending.values()) pending.reject(stopped())
    this.#pending.clear()
  }

  #send(message: Record<string, unknown>): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(toWireJson(message))
  }
}

function stopped(functionId?: string): InvocationError {
  return new InvocationError({
    code: 'invocation_stopped',
    message: 'The invocation stopped: the worker serving it disconnected.',
    ...(functionId === undefined ? {} : { function_id: functionId }),
  })
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
