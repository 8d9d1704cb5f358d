import type { Readable } from '@iii-streams/client'
import { useCallback, useRef, useSyncExternalStore } from 'react'

/** Picks part of a snapshot; with `isEqual`, an equal part keeps the previous value (no re-render). */
export interface SelectOptions<TSnapshot, TSelected> {
  readonly select?: (snapshot: TSnapshot) => TSelected
  readonly isEqual?: (a: TSelected, b: TSelected) => boolean
}

/**
 * Reads a core store with `useSyncExternalStore`, through an optional selector; on the server it
 * reads `serverSnapshot` (no socket there).
 */
export function useReadable<TSnapshot, TSelected = TSnapshot>(
  store: Readable<TSnapshot>,
  serverSnapshot: TSnapshot,
  options: SelectOptions<TSnapshot, TSelected> = {},
): TSelected {
  const latest = useRef(options)
  latest.current = options
  const memo = useRef<{
    snapshot: TSnapshot
    select: (snapshot: TSnapshot) => TSelected
    selected: TSelected
  } | null>(null)
  const read = useCallback((snapshot: TSnapshot): TSelected => {
    const { select, isEqual = Object.is } = latest.current
    if (!select) return snapshot as unknown as TSelected
    const previous = memo.current
    // A new selector (one that reads a prop, say) selects again, even from the same snapshot.
    if (previous?.snapshot === snapshot && previous.select === select) return previous.selected
    const next = select(snapshot)
    const selected = previous && isEqual(previous.selected, next) ? previous.selected : next
    memo.current = { snapshot, select, selected }
    return selected
  }, [])
  const subscribe = useCallback((onChange: () => void) => store.subscribe(onChange), [store])
  return useSyncExternalStore(
    subscribe,
    () => read(store.get()),
    () => read(serverSnapshot),
  )
}
