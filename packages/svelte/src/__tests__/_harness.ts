import type { StreamClient, StreamClientOptions } from '@iii-streams/client'
import { createStreamClient } from '@iii-streams/client'
import { createStreamServer, type StreamServer, silentLogger } from '@iii-streams/server'
import { afterEach } from 'vitest'
import WebSocket from 'ws'

// A trimmed copy of packages/client's harness: test files do not import across packages.

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A stream server on a free loopback port, closed after the test. */
export async function startServer(): Promise<StreamServer> {
  const server = await createStreamServer({ port: 0, logger: silentLogger })
  cleanups.push(() => server.close())
  return server
}

/** A client using the `ws` WebSocket (jsdom's cannot reach Node's loopback server), closed after the test. */
export function startClient(
  server: StreamServer,
  options: Partial<StreamClientOptions> = {},
): StreamClient {
  const client = createStreamClient({
    url: server.url,
    WebSocket: WebSocket as never,
    lingerMs: 50,
    ...options,
  })
  cleanups.push(() => client.close())
  return client
}

export { countJoins, until } from '@iii-streams/test-utils'

/** Waits until `check` stops throwing (for server-side counters). */
export async function eventually(check: () => void, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      check()
      return
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
}

export const set = (server: StreamServer, group: string, item: string, data: unknown) =>
  server.trigger({
    function_id: 'stream::set',
    payload: { stream_name: 'chat', group_id: group, item_id: item, data },
  })

export const send = (server: StreamServer, group: string, type: string, data: unknown) =>
  server.trigger({
    function_id: 'stream::send',
    payload: { stream_name: 'chat', group_id: group, type, data },
  })
