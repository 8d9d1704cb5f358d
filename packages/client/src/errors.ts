const STREAMS_ERROR: unique symbol = Symbol.for('iii-streams.error')

/**
 * What went wrong, as a code to branch on:
 * - `unauthorized`: a `stream:join` handler refused the subscription;
 * - `no_item_id`: a group sync item has no id (no `ids`, no `data.id`, no `getItemId`);
 * - `sync_failed`: the server could not read the store for a join;
 * - `server_error`: the server refused a frame (`error` frame);
 * - `bad_frame`: the server sent a frame this client cannot read;
 * - `commit_failed`: an optimistic `mutate`'s commit rejected (the change was rolled back);
 * - `connection`: the socket could not be opened or was lost;
 * - `auth_failed`: the `auth` option threw or rejected (the client asks it again after a delay);
 * - `closed`: the client was closed.
 */
export type StreamsErrorCode =
  | 'unauthorized'
  | 'no_item_id'
  | 'sync_failed'
  | 'server_error'
  | 'bad_frame'
  | 'commit_failed'
  | 'connection'
  | 'auth_failed'
  | 'closed'

/**
 * The one error class of iii-streams: a `code`, a sentence and the `cause`.
 *
 * @example
 * if (snapshot.error?.code === 'unauthorized') showLogin()
 */
export class StreamsError extends Error {
  readonly [STREAMS_ERROR] = true
  constructor(
    readonly code: StreamsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'StreamsError'
  }
}

/**
 * True for a `StreamsError`, even one from another copy of this package (`instanceof` is not).
 *
 * @example
 * try { await client.mutate(...) } catch (error) { if (isStreamsError(error)) toast(error.message) }
 */
export function isStreamsError(value: unknown): value is StreamsError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[STREAMS_ERROR] === true
  )
}
