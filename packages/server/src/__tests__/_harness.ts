import { spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
import { parseJsonNumber } from '@iii-streams/protocol'
import { parse } from 'lossless-json'
import { afterEach } from 'vitest'
import WebSocket from 'ws'
import { createStreamServer, type StreamServer, type StreamServerOptions } from '../index.ts'
import type { Logger } from '../logger.ts'

// biome-ignore lint/suspicious/noExplicitAny: frames are checked field by field in the tests.
export type Frame = Record<string, any>

/** Log lines a test can assert on. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = []
  return {
    lines,
    info: (line) => lines.push(`info ${line}`),
    warn: (line) => lines.push(`warn ${line}`),
    error: (line) => lines.push(`error ${line}`),
  }
}

const servers: StreamServer[] = []
const clients: TestClient[] = []

afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate()
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

/** A server on a free loopback port, closed after the test. */
export async function startServer(
  options: StreamServerOptions = {},
): Promise<StreamServer & { log: string[] }> {
  const logger = recordingLogger()
  const server = await createStreamServer({ port: 0, logger, ...options })
  servers.push(server)
  return Object.assign(server, { log: logger.lines })
}

/** A raw socket on the stream port that records every frame it receives, parsed losslessly. */
export class TestClient {
  readonly frames: Frame[] = []
  #waiters: (() => void)[] = []
  #read = 0
  closeEvent: { code: number; reason: string } | undefined
  #barriers = 0

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(parse(String(data), null, parseJsonNumber) as Frame)
      for (const wake of this.#waiters.splice(0)) wake()
    })
    ws.on('close', (code, reason) => {
      this.closeEvent = { code, reason: String(reason) }
      for (const wake of this.#waiters.splice(0)) wake()
    })
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  join(subscriptionId: string, streamName: string, groupId: string, id?: string | null): void {
    this.send({
      type: 'join',
      data: { subscriptionId, streamName, groupId, ...(id === undefined ? {} : { id }) },
    })
  }

  leave(subscriptionId: string, streamName: string, groupId: string): void {
    this.send({ type: 'leave', data: { subscriptionId, streamName, groupId } })
  }

  /** The next frame not read yet. */
  async next(timeoutMs = 3000): Promise<Frame> {
    await this.#until(
      () => this.frames.length > this.#read || this.closeEvent !== undefined,
      timeoutMs,
    )
    const frame = this.frames[this.#read]
    if (frame === undefined)
      throw new Error(`socket closed (${this.closeEvent?.code}) before a frame came`)
    this.#read++
    return frame
  }

  /** The next frame whose event (or top-level) type is `type`, skipping others. */
  async nextOf(type: string, timeoutMs = 3000): Promise<Frame> {
    for (;;) {
      const frame = await this.next(timeoutMs)
      if (frame.type === type || frame.event?.type === type) return frame
    }
  }

  /**
   * Every frame that arrives before the sync of a fresh barrier join. The server handles a socket's
   * frames in order and emits changes before `trigger` resolves, so everything the test caused
   * earlier comes first: a test can say "nothing else came" without sleeping. The barrier always
   * joins under one subscription id, so it replaces itself (no leave triggers).
   */
  async drain(): Promise<Frame[]> {
    const group = `barrier-${++this.#barriers}`
    this.join('__barrier__', '__barrier__', group)
    const seen: Frame[] = []
    for (;;) {
      const frame = await this.next()
      if (frame.streamName === '__barrier__' && frame.groupId === group) return seen
      seen.push(frame)
    }
  }

  async closed(timeoutMs = 3000): Promise<{ code: number; reason: string }> {
    await this.#until(() => this.closeEvent !== undefined, timeoutMs)
    return this.closeEvent!
  }

  #until(ready: () => boolean, timeoutMs: number): Promise<void> {
    if (ready()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no frame within ${timeoutMs} ms`)),
        timeoutMs,
      )
      const check = () => {
        if (ready()) {
          clearTimeout(timer)
          resolve()
        } else this.#waiters.push(check)
      }
      this.#waiters.push(check)
    })
  }
}

/** Opens a socket (`query` e.g. `?iii-streams=1`) and waits until it is open. */
export async function connect(
  server: { port: number },
  pathAndQuery = '/',
  options: WebSocket.ClientOptions = {},
): Promise<TestClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}${pathAndQuery}`, options)
  const client = new TestClient(ws)
  clients.push(client)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return client
}

/** Opens an extended socket and consumes its `hello`. */
export async function connectExtended(
  server: { port: number },
  query = '',
): Promise<TestClient & { hello: Frame }> {
  const client = await connect(server, `/?iii-streams=1${query}`)
  const hello = await client.next()
  return Object.assign(client, { hello })
}

/** A frame without its `timestamp` (which only has to be an integer). */
export function withoutTimestamp(frame: Frame): Frame {
  const { timestamp, ...rest } = frame
  if (!Number.isInteger(timestamp)) throw new Error(`timestamp ${timestamp} is not an integer`)
  return rest
}

export { set } from '@iii-streams/test-utils'

/** The tsx binary of this package, which runs fixtures from source. */
export const TSX = join(resolve(import.meta.dirname, '../..'), 'node_modules/.bin/tsx')

/**
 * Runs a fixture script (from source) in its own process group, collects its stdout lines, and
 * kills the whole group with SIGKILL once more than `lines` have come: tsx runs the script in a
 * child process of its own, and both must die at once, mid-write.
 */
export async function runThenKill(
  script: string,
  args: string[],
  lines: number,
): Promise<string[]> {
  const child = spawn(TSX, ['--conditions=@iii-streams/source', script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let stderr = ''
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  const exited = new Promise<void>((done) => child.on('exit', () => done()))
  const seen: string[] = []
  await new Promise<void>((done, fail) => {
    let buffered = ''
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8')
      const parts = buffered.split('\n')
      buffered = parts.pop() ?? ''
      seen.push(...parts)
      if (seen.length > lines && child.pid !== undefined) {
        process.kill(-child.pid, 'SIGKILL')
        done()
      }
    })
    child.on('exit', () => fail(new Error(`${script} stopped early: ${stderr}`)))
  })
  await exited
  return seen
}
