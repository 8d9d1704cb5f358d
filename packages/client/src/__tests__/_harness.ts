import { createServer, type Server, Socket } from 'node:net'
import {
  createStreamServer,
  type StreamServer,
  type StreamServerOptions,
  silentLogger,
} from '@iii-streams/server'
import { afterEach } from 'vitest'
import WebSocket from 'ws'
import {
  createStreamClient,
  type Readable,
  type StreamClient,
  type StreamClientOptions,
} from '../index.ts'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A stream server on a free loopback port, closed after the test. */
export async function startServer(options: StreamServerOptions = {}): Promise<StreamServer> {
  const server = await createStreamServer({ port: 0, logger: silentLogger, ...options })
  cleanups.push(() => server.close())
  return server
}

/** A client of `url` using the `ws` WebSocket, closed after the test. */
export function startClient(
  url: string | readonly string[],
  options: Partial<StreamClientOptions> = {},
): StreamClient {
  const client = createStreamClient({
    url,
    WebSocket: WebSocket as never,
    lingerMs: 50,
    ...options,
  })
  cleanups.push(() => client.close())
  return client
}

/**
 * A TCP relay between clients and a server on loopback, whose `cut()` severs every connection at
 * once, and `silence()` makes them carry nothing more without closing them (a network that
 * dropped them without a word): faults injected on purpose, not sleeps. Later connections pass.
 */
export async function startRelay(
  targetPort: number,
): Promise<{ port: number; cut(): void; silence(): void; connections(): number }> {
  const sockets = new Set<Socket>()
  const silenced = new Set<Socket>()
  const relay: Server = createServer((inbound) => {
    const outbound = new Socket()
    outbound.connect(targetPort, '127.0.0.1')
    for (const socket of [inbound, outbound]) {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => {
        sockets.delete(socket)
        inbound.destroy()
        outbound.destroy()
      })
    }
    inbound.pipe(outbound)
    outbound.pipe(inbound)
  })
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of [...sockets, ...silenced]) socket.destroy()
        relay.close(() => resolve())
      }),
  )
  const address = relay.address() as { port: number }
  return {
    port: address.port,
    cut() {
      for (const socket of sockets) socket.destroy()
      sockets.clear()
    },
    silence() {
      for (const socket of sockets) {
        socket.unpipe()
        socket.pause()
        silenced.add(socket)
      }
      sockets.clear()
    },
    connections: () => sockets.size / 2,
  }
}

/** Keeps a store subscribed (joined) until the test ends; returns every value it saw. */
export function hold<T>(store: Readable<T>): T[] {
  const seen: T[] = []
  const stop = store.subscribe((value) => seen.push(value))
  cleanups.push(stop)
  return seen
}

export { countJoins, remove, set, until, update } from '@iii-streams/test-utils'
