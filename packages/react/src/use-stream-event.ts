import type { StreamEventMessage } from '@iii-streams/client'
import { useEffect, useRef } from 'react'
import { useStreamClient } from './provider.tsx'

/**
 * Calls `handler` for each custom event (`stream::send`) of a group, optionally of one `type`. The
 * latest handler is used without subscribing again.
 *
 * @example
 * useStreamEvent<{ user: string }>('chat', 'room-1', (e) => setTyping(e.data.user), { type: 'typing' })
 */
export function useStreamEvent<TData = unknown>(
  stream: string,
  group: string,
  handler: (event: StreamEventMessage<TData>) => void,
  options: { readonly type?: string } = {},
): void {
  const client = useStreamClient()
  const latest = useRef(handler)
  latest.current = handler
  const { type } = options
  useEffect(
    () =>
      client.onEvent<TData>(stream, group, (event) => {
        if (type === undefined || event.type === type) latest.current(event)
      }),
    [client, stream, group, type],
  )
}
