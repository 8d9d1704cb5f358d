import {
  isStreamsError,
  type StreamClient,
  type StreamsError,
  type UpdateOp,
} from '@iii-streams/client'
import { useCallback, useState } from 'react'
import { useStreamClient } from './provider.tsx'

/** The changes of one item: whose they are, how many run, and the last rollback's error. */
interface MutationState {
  readonly client: StreamClient
  readonly target: string
  readonly pending: number
  readonly error: StreamsError | null
}

/**
 * The client's optimistic `mutate` for one item, with its state: `isPending` while a commit runs,
 * `error` after a rolled-back commit (cleared by the next call). `mutate` reports a rollback through
 * `error` only (its promise never rejects for one); `mutateAsync` also rejects with it. The state
 * follows the arguments: another item starts with none.
 *
 * @example
 * const { mutate, isPending, error } = useMutation('metrics', 'cpu', 'host-1')
 * <button onClick={() => mutate([{ type: 'increment', path: 'hits', by: 1 }], () => api.hit())}>+1</button>
 */
export function useMutation(stream: string, group: string, itemId: string) {
  const client = useStreamClient()
  const target = `${stream}\u0000${group}\u0000${itemId}`
  const [state, setState] = useState<MutationState>(() => idle(client, target))
  const current = state.client === client && state.target === target ? state : idle(client, target)
  if (current !== state) setState(current)
  const mutateAsync = useCallback(
    async (ops: readonly UpdateOp[], commit: () => unknown): Promise<void> => {
      // A change that ends after the arguments changed is no longer the state's to show.
      const update = (change: (s: MutationState) => MutationState) =>
        setState((s) => (s.client === client && s.target === target ? change(s) : s))
      update((s) => ({ ...s, pending: s.pending + 1, error: null }))
      try {
        await client.mutate(stream, group, itemId, ops, commit)
        update((s) => ({ ...s, pending: s.pending - 1 }))
      } catch (error) {
        update((s) => ({
          ...s,
          pending: s.pending - 1,
          error: isStreamsError(error) ? error : s.error,
        }))
        throw error
      }
    },
    [client, stream, group, itemId, target],
  )
  const mutate = useCallback(
    (ops: readonly UpdateOp[], commit: () => unknown): Promise<void> =>
      // A rollback is in `error`; a TypeError (bad ops, no commit) is a bug, left to reject.
      mutateAsync(ops, commit).catch((error: unknown) => {
        if (!isStreamsError(error)) throw error
      }),
    [mutateAsync],
  )
  return { mutate, mutateAsync, isPending: current.pending > 0, error: current.error }
}

function idle(client: StreamClient, target: string): MutationState {
  return { client, target, pending: 0, error: null }
}
