import type { StreamsError, UpdateOp } from '@iii-streams/client'
import { useCallback, useState } from 'react'
import { useStreamClient } from './provider.tsx'

/**
 * The client's optimistic `mutate` for one item, with its state: `isPending` while the commit runs,
 * `error` after a rolled-back commit (cleared by the next call).
 *
 * @example
 * const { mutate, isPending, error } = useMutation('metrics', 'cpu', 'host-1')
 * <button onClick={() => mutate([{ type: 'increment', path: 'hits', by: 1 }], () => api.hit())}>+1</button>
 */
export function useMutation(stream: string, group: string, itemId: string) {
  const client = useStreamClient()
  const [state, setState] = useState<{ pending: number; error: StreamsError | null }>({
    pending: 0,
    error: null,
  })
  const mutate = useCallback(
    async (ops: readonly UpdateOp[], commit: () => Promise<unknown>): Promise<void> => {
      setState((s) => ({ pending: s.pending + 1, error: null }))
      try {
        await client.mutate(stream, group, itemId, ops, commit)
        setState((s) => ({ ...s, pending: s.pending - 1 }))
      } catch (error) {
        setState((s) => ({ pending: s.pending - 1, error: error as StreamsError }))
        throw error
      }
    },
    [client, stream, group, itemId],
  )
  return { mutate, isPending: state.pending > 0, error: state.error }
}
