import type { StreamFrame } from '@iii-streams/protocol'
import { messageOf } from './errors.ts'
import type { Logger } from './logger.ts'
import type { Registry } from './registry.ts'

/** The trigger types this server offers, with the check each config must pass. */
export const STREAM_TRIGGER_TYPES: ReadonlyMap<string, (config: unknown) => void> = new Map([
  ['stream', checkStreamTriggerConfig],
  // The engine ignores the config of join and leave triggers entirely (STREAM-PROTOCOL.md §5.2).
  ['stream:join', () => {}],
  ['stream:leave', () => {}],
])

/** `{ stream_name, group_id?, item_id?, condition_function_id? }`, as the engine reads it. */
export interface StreamTriggerConfig {
  readonly stream_name: string
  readonly group_id?: string
  readonly item_id?: string
  readonly condition_function_id?: string
}

function checkStreamTriggerConfig(config: unknown): void {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new TypeError('Failed to deserialize stream trigger: config must be an object.')
  }
  const fields = config as Record<string, unknown>
  if (typeof fields.stream_name !== 'string') {
    throw new TypeError(
      'Failed to deserialize stream trigger: config.stream_name must be a string.',
    )
  }
  for (const key of ['group_id', 'item_id', 'condition_function_id']) {
    const value = fields[key]
    if (value !== undefined && value !== null && typeof value !== 'string') {
      throw new TypeError(`Failed to deserialize stream trigger: config.${key} must be a string.`)
    }
  }
}

/** The engine's matching: names equal; an absent or empty group or item is a wildcard. */
function matches(config: StreamTriggerConfig, frame: StreamFrame): boolean {
  if (config.stream_name !== frame.streamName) return false
  if (config.group_id && config.group_id !== frame.groupId) return false
  if (config.item_id && config.item_id !== (frame.id ?? '')) return false
  return true
}

/**
 * Runs the `stream` triggers matching a change or a send, one after another in registration order,
 * each awaited, with the wrapper frame (engine form: no `seq`) as payload. A
 * `condition_function_id` that answers a literal `false`, or fails, skips its handler. Results and
 * failures are logged, never returned: the write has already answered its caller.
 */
export async function fireStreamTriggers(
  registry: Registry,
  frame: StreamFrame,
  logger: Logger,
): Promise<void> {
  for (const trigger of registry.triggersOf('stream')) {
    const config = trigger.config as StreamTriggerConfig
    if (!matches(config, frame)) continue
    try {
      if (config.condition_function_id) {
        const pass = await registry.invoke(config.condition_function_id, frame)
        if (pass === false) continue
      }
      await registry.invoke(trigger.function_id, frame, trigger.metadata as never)
    } catch (error) {
      logger.warn(`stream trigger ${trigger.function_id} failed: ${messageOf(error)}`)
    }
  }
}

/** The payload of `stream:join` and `stream:leave` (snake_case; `id` and `context` null when absent). */
export interface JoinLeavePayload {
  readonly subscription_id: string
  readonly stream_name: string
  readonly group_id: string
  readonly id: string | null
  readonly context: unknown
}

/**
 * Runs every `stream:join` trigger (all of them, even after one rejects, so side effects such as
 * presence happen) and answers whether the join is allowed: rejected only when some handler
 * returned an object with `unauthorized: true`.
 */
export async function runJoinTriggers(
  registry: Registry,
  payload: JoinLeavePayload,
  logger: Logger,
): Promise<boolean> {
  let allowed = true
  for (const trigger of registry.triggersOf('stream:join')) {
    try {
      const result = await registry.invoke(trigger.function_id, payload, trigger.metadata as never)
      if (
        typeof result === 'object' &&
        result !== null &&
        (result as { unauthorized?: unknown }).unauthorized === true
      ) {
        allowed = false
      }
    } catch (error) {
      logger.warn(
        `stream:join trigger ${trigger.function_id} failed (join allowed): ${messageOf(error)}`,
      )
    }
  }
  return allowed
}

/** Runs every `stream:leave` trigger; results are ignored. */
export async function runLeaveTriggers(
  registry: Registry,
  payload: JoinLeavePayload,
  logger: Logger,
): Promise<void> {
  for (const trigger of registry.triggersOf('stream:leave')) {
    try {
      await registry.invoke(trigger.function_id, payload, trigger.metadata as never)
    } catch (error) {
      logger.warn(`stream:leave trigger ${trigger.function_id} failed: ${messageOf(error)}`)
    }
  }
}
