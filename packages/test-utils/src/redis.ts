import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A real `redis-server` of this test, on a loopback port of its own. */
export interface RedisProcess {
  readonly url: string
  readonly port: number
  /** Kills it (SIGKILL by default: no goodbye, no last save). */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** Starts it again on the same port and directory (what it persisted comes back). */
  restart(): Promise<void>
  /** Stops it for good and removes its directory. */
  stop(): Promise<void>
}

export interface RedisOptions {
  /**
   * Append-only file with an fsync per write: whatever Redis acknowledged survives a SIGKILL.
   * Default false: nothing is kept, a restarted Redis is empty (as one that lost its data).
   */
  readonly persistent?: boolean
}

/** The `redis-server` binary, or a clear error naming the package that provides it. */
function redisServerPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error(
      'redis-server is not installed: run the set-up (npm test installs Debian\'s "redis-server")',
    )
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** True when a Redis answers PING on the port. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.setTimeout(1000, () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', () => resolve(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => {
      socket.destroy()
      resolve(String(data).startsWith('+PONG'))
    })
  })
}

/**
 * Starts `redis-server` on a free loopback port, in a temporary directory, and waits until it
 * accepts connections.
 */
export async function startRedis(options: RedisOptions = {}): Promise<RedisProcess> {
  const binary = redisServerPath()
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'iii-streams-redis-'))
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.persistent ? 'yes' : 'no',
    '--appendfsync',
    'always',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ]
  let child: ChildProcess | undefined

  async function launch(): Promise<void> {
    const started = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    child = started
    // A test process that ends (even on a failure) takes its Redis with it.
    const killOnExit = () => started.kill('SIGKILL')
    process.once('exit', killOnExit)
    started.once('exit', () => process.off('exit', killOnExit))
    let output = ''
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not start on port ${port}: ${output}`)),
        10_000,
      )
      const poll = setInterval(() => {
        void ping(port).then((up) => {
          if (!up) return
          clearInterval(poll)
          clearTimeout(timer)
          resolve()
        })
      }, 50)
      const collect = (chunk: Buffer) => {
        output += String(chunk)
      }
      started.stdout?.on('data', collect)
      started.stderr?.on('data', collect)
      started.once('exit', (code) => {
        clearInterval(poll)
        clearTimeout(timer)
        reject(new Error(`redis-server exited (${code}) on port ${port}: ${output}`))
      })
    })
  }

  async function kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const running = child
    child = undefined
    if (running === undefined || running.exitCode !== null) return
    const exited = new Promise((resolve) => running.once('exit', resolve))
    running.kill(signal)
    await exited
  }

  await launch()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    async restart() {
      await kill()
      await launch()
    },
    async stop() {
      await kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
