import type { ConnectionState } from '@iii-streams/client'
import { useConnectionStatus } from '@iii-streams/react'

function describe({ status, extensions, attempt }: ConnectionState): string {
  switch (status) {
    case 'open':
      return `open · ${extensions ? 'iii-streams' : 'plain engine mode'}`
    case 'reconnecting':
      return `reconnecting · attempt ${attempt}`
    default:
      return status
  }
}

/** The socket's state; its text starts with the status word (`open`, `reconnecting`, …). */
export function ConnectionBadge() {
  const connection = useConnectionStatus()
  return (
    <output
      className={`badge badge--${connection.status}`}
      data-testid="connection"
      data-status={connection.status}
      title={connection.error?.message}
    >
      {describe(connection)}
    </output>
  )
}
