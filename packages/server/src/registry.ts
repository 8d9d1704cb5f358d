import type { JsonValue } from '@iii-streams/protocol'
import { InvocationError, messageOf } from './errors.ts'

/**
 * A function body, as in `iii-sdk`: the payload and the caller's metadata in, a result out.
 *
 * @example
 * const onAuth: FunctionHandler = async (input) => ({ context: { user: input.query_params.token?.[0] } })
 */
// biome-ignore lint/suspicious/noExplicitAny: payloads are whatever the caller sends, as in iii-sdk.
export type FunctionHandler<TInput = any, TOutput = unknown> = (
  data: TInput,
  metadata?: JsonValue,
) => Promise<TOutput> | TOutput

/** Optional registration details, as `iii-sdk` accepts them. */
export interface FunctionOptions {
  readonly description?: string
  readonly metadata?: Record<string, unknown>
}

/** The handle `registerFunction` returns. */
export interface FunctionRef {
  readonly id: string
  unregister(): void
}

/**
 * A trigger registration, as `iii-sdk`'s `registerTrigger` takes it.
 *
 * @example
 * server.registerTrigger({ type: 'stream', function_id: 'onMessage', config: { stream_name: 'chat' } })
 */
export interface TriggerInput {
  readonly type: string
  readonly function_id: string
  readonly config?: unknown
  readonly metadata?: Record<string, unknown>
}

/** The handle `registerTrigger` returns. */
export interface Trigger {
  unregister(): void
}

/** A trigger as the registry holds it. */
export interface RegisteredTrigger {
  readonly id: string
  readonly type: string
  readonly function_id: string
  readonly config: unknown
  readonly metadata: Record<string, unknown> | undefined
}

interface RegisteredFunction {
  readonly handler: FunctionHandler
  readonly options: FunctionOptions
  /** The worker serving it, if a worker registered it. */
  readonly worker: string | undefined
}

/**
 * The functions and triggers of one server: the built-in `stream::*` functions, functions
 * registered in-process, and (later) those of connected workers share it.
 */
export class Registry {
  readonly #functions = new Map<string, RegisteredFunction>()
  readonly #triggers = new Map<string, RegisteredTrigger>()
  readonly #triggerTypes: ReadonlyMap<string, (config: unknown) => void>
  #nextTriggerId = 1

  /** `triggerTypes`: each accepted type with the check its config must pass (throws to refuse). */
  constructor(triggerTypes: ReadonlyMap<string, (config: unknown) => void>) {
    this.#triggerTypes = triggerTypes
  }

  /**
   * `worker` marks a function a worker serves: a later registration of the same id by a worker
   * replaces it (a reconnecting worker may register again before its old socket is seen closed).
   * Any other clash throws.
   */
  registerFunction(
    id: string,
    handler: FunctionHandler,
    options: FunctionOptions = {},
    worker?: string,
  ): FunctionRef {
    if (typeof id !== 'string' || id === '')
      throw new TypeError('A function id must be a non-empty string.')
    if (typeof handler !== 'function')
      throw new TypeError(`The handler of ${id} must be a function.`)
    const existing = this.#functions.get(id)
    if (existing && (worker === undefined || existing.worker === undefined)) {
      throw new Error(`Function ${id} is already registered; unregister it first.`)
    }
    const entry: RegisteredFunction = { handler, options, worker }
    this.#functions.set(id, entry)
    return {
      id,
      unregister: () => {
        if (this.#functions.get(id) === entry) this.#functions.delete(id)
      },
    }
  }

  has(id: string): boolean {
    return this.#functions.has(id)
  }

  /**
   * Calls a function. A missing function is `function_not_found`; a handler that throws is
   * `invocation_failed` unless it threw an `InvocationError`, which passes through.
   */
  async invoke(id: string, data: unknown, metadata?: JsonValue): Promise<unknown> {
    const entry = this.#functions.get(id)
    if (entry === undefined) {
      throw new InvocationError({
        code: 'function_not_found',
        message: `Function ${id} not found in namespace default.`,
        function_id: id,
      })
    }
    try {
      return await entry.handler(data, metadata)
    } catch (error) {
      if (error instanceof InvocationError) throw error
      const code =
        typeof error === 'object' &&
        error !== null &&
        typeof (error as { code?: unknown }).code === 'string'
          ? (error as { code: string }).code
          : 'invocation_failed'
      throw new InvocationError({ code, message: messageOf(error), function_id: id })
    }
  }

  registerTrigger(input: TriggerInput): Trigger {
    if (typeof input !== 'object' || input === null)
      throw new TypeError('A trigger must be an object.')
    const check = this.#triggerTypes.get(input.type)
    if (check === undefined) {
      throw new TypeError(
        `Unknown trigger type "${String(input.type)}": this server offers ${[...this.#triggerTypes.keys()].join(', ')}.`,
      )
    }
    if (typeof input.function_id !== 'string' || input.function_id === '') {
      throw new TypeError('A trigger needs a function_id.')
    }
    check(input.config)
    const id = `trigger-${this.#nextTriggerId++}`
    this.#triggers.set(id, {
      id,
      type: input.type,
      function_id: input.function_id,
      config: input.config ?? {},
      metadata: input.metadata,
    })
    return { unregister: () => void this.#triggers.delete(id) }
  }

  /** The triggers of one type, in registration order. */
  triggersOf(type: string): RegisteredTrigger[] {
    return [...this.#triggers.values()].filter((trigger) => trigger.type === type)
  }
}
