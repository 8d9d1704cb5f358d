import type { ConnectionState } from '@iii-streams/client'

/**
 * The status line's words for a connection state.
 *
 * @example
 * connectionLabel(client.connection.get()) // 'Connecting…'
 */
export function connectionLabel({ status, attempt }: ConnectionState): string {
  switch (status) {
    case 'connecting':
      return 'Connecting…'
    case 'open':
      return 'Connected'
    case 'reconnecting':
      return attempt > 0 ? `Reconnecting (attempt ${attempt})…` : 'Reconnecting…'
    case 'closed':
      return 'Disconnected'
  }
}
