const INVOCATION_ERROR: unique symbol = Symbol.for('iii-streams.invocation-error')

/**
 * A failed invocation, shaped like `iii-sdk`'s `InvocationError` (`code`, `message`,
 * `function_id`), so code that catches one moves unchanged between the in-process API and a worker.
 *
 * @example
 * try { await server.trigger({ function_id: 'stream::set', payload: {} }) }
 * catch (error) { if (isInvocationError(error)) console.log(error.code) } // 'deserialization_error'
 */
export class InvocationError extends Error {
  readonly code: string
  readonly function_id: string | undefined
  readonly [INVOCATION_ERROR] = true
  constructor(init: { code: string; message: string; function_id?: string }) {
    super(init.message)
    this.name = 'InvocationError'
    this.code = init.code
    this.function_id = init.function_id
  }
}

/** True for an `InvocationError`, even one from another copy of this package. */
export function isInvocationError(value: unknown): value is InvocationError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[INVOCATION_ERROR] === true
  )
}

/** The message of anything thrown, without its stack. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message
  if (typeof error === 'object' && error !== null && 'message' in error) {
    return String((error as { message: unknown }).message)
  }
  return String(error)
}
