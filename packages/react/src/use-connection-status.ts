import type { ConnectionState } from '@iii-streams/client'
import { useStreamClient } from './provider.tsx'
import { type SelectOptions, useReadable } from './use-readable.ts'

const SERVER_STATE: ConnectionState = Object.freeze({
  status: 'connecting',
  extensions: false,
  attempt: 0,
  error: null,
})

/**
 * The state of the client's socket (`status`, `extensions`, `attempt`, `error`).
 *
 * @example
 * const { status } = useConnectionStatus()
 * const open = useConnectionStatus({ select: (c) => c.status === 'open' })
 */
export function useConnectionStatus<TSelected = ConnectionState>(
  options?: SelectOptions<ConnectionState, TSelected>,
): TSelected {
  return useReadable(useStreamClient().connection, SERVER_STATE, options)
}
