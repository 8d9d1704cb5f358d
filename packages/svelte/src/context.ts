import type { StreamClient } from '@iii-streams/client'
import { getContext, setContext } from 'svelte'

/** `Symbol.for`, so that two copies of this package in one app still share the client. */
const CLIENT_KEY = Symbol.for('@iii-streams/svelte/client')

/**
 * Makes `client` the stream client of this component and its descendants. Call it during component
 * initialisation (the top level of a `<script>`), usually in the root layout.
 *
 * @example
 * <script>
 *   import { createStreamClient } from '@iii-streams/client'
 *   import { setStreamClient } from '@iii-streams/svelte'
 *
 *   setStreamClient(createStreamClient({ url: 'ws://127.0.0.1:3112' }))
 * </script>
 */
export function setStreamClient(client: StreamClient): StreamClient {
  return setContext(CLIENT_KEY, client)
}

/**
 * The stream client set by `setStreamClient` in a parent component. Call it during component
 * initialisation; throws when no parent set a client.
 *
 * @example
 * const client = getStreamClient()
 * const like = () =>
 *   client.mutate('posts', 'feed', 'p1', [{ type: 'increment', path: 'likes', by: 1 }], postLike)
 */
export function getStreamClient(): StreamClient {
  const client = getContext<StreamClient | undefined>(CLIENT_KEY)
  if (client === undefined)
    throw new Error(
      'No iii-streams client here: call setStreamClient(client) in a parent component, or pass the client as the last argument.',
    )
  return client
}
