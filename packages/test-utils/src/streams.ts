/**
 * Helpers for tests that drive a stream server and watch stores. They take only the shapes they
 * use (a server's `trigger`, the store contract), so every package can share them without a
 * dependency on the client or the server.
 */

/** What these helpers need of a stream server. */
export interface Triggerable {
  trigger(request: { function_id: string; payload: unknown }): Promise<unknown>
}

/** The store contract of the client (`get`, and `subscribe` that calls at once, then on change). */
export interface ReadableLike<T> {
  get(): T
  subscribe(listener: (value: T) => void): () => void
}

export const set = (
  server: Triggerable,
  stream: string,
  group: string,
  item: string,
  data: unknown,
) =>
  server.trigger({
    function_id: 'stream::set',
    payload: { stream_name: stream, group_id: group, item_id: item, data },
  })

export const update = (
  server: Triggerable,
  stream: string,
  group: string,
  item: string,
  ops: unknown[],
) =>
  server.trigger({
    function_id: 'stream::update',
    payload: { stream_name: stream, group_id: group, item_id: item, ops },
  })

export const remove = (server: Triggerable, stream: string, group: string, item: string) =>
  server.trigger({
    function_id: 'stream::delete',
    payload: { stream_name: stream, group_id: group, item_id: item },
  })

/** Resolves with the store's first value that passes `accept`, or fails after `timeoutMs`. */
export function until<T>(
  store: ReadableLike<T>,
  accept: (value: T) => boolean,
  timeoutMs = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let stop: (() => void) | undefined
    let done = false
    const timer = setTimeout(() => {
      done = true
      stop?.()
      reject(new Error(`timed out; last value: ${JSON.stringify(store.get())}`))
    }, timeoutMs)
    stop = store.subscribe((value) => {
      if (done || !accept(value)) return
      done = true
      clearTimeout(timer)
      queueMicrotask(() => stop?.())
      resolve(value)
    })
    if (done) stop()
  })
}

/** What `countJoins` needs of a stream server. */
export interface TriggerHost {
  registerFunction(
    id: string,
    handler: (input: { group_id: string; id: string | null }) => Promise<unknown>,
  ): unknown
  registerTrigger(trigger: { type: string; function_id: string; config: unknown }): unknown
}

/** Counts the joins and leaves the server sees, through its triggers (`group` or `group/item`). */
export function countJoins(server: TriggerHost): { joins: string[]; leaves: string[] } {
  const counts = { joins: [] as string[], leaves: [] as string[] }
  const name = (p: { group_id: string; id: string | null }) =>
    p.id === null ? p.group_id : `${p.group_id}/${p.id}`
  server.registerFunction('test::onJoin', async (p) => {
    counts.joins.push(name(p))
  })
  server.registerFunction('test::onLeave', async (p) => {
    counts.leaves.push(name(p))
  })
  server.registerTrigger({ type: 'stream:join', function_id: 'test::onJoin', config: {} })
  server.registerTrigger({ type: 'stream:leave', function_id: 'test::onLeave', config: {} })
  return counts
}
