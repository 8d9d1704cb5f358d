import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { startRedis } from '@iii-streams/test-utils'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { connect } from './_harness.ts'

const PACKAGE = resolve(import.meta.dirname, '../..')
const children: ChildProcess[] = []
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
})

/** Runs the CLI from source, as `iii-streams <args>`. */
function cli(args: string[]) {
  // One process (tsx as a loader rather than its wrapper), so that killing it stops the server.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@iii-streams/source', join(PACKAGE, 'src/cli.ts'), ...args],
    { cwd: PACKAGE, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => {
    stdout += chunk
  })
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)))
  const line = async (pattern: RegExp) => {
    for (let i = 0; i < 300 && !pattern.test(stdout); i++)
      await new Promise((r) => setTimeout(r, 20))
    const match = pattern.exec(stdout)
    if (!match) throw new Error(`no ${pattern} in stdout: ${stdout} ${stderr}`)
    return match
  }
  return { child, exited, line, output: () => ({ stdout, stderr }) }
}

describe('iii-streams serve', () => {
  it('prints its endpoint, serves, and on SIGTERM closes clients with 1001 and exits 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iii-cli-'))
    const run = cli([
      'serve',
      '--port',
      '0',
      '--worker-port',
      '0',
      '--adapter',
      'file',
      '--data-dir',
      dir,
    ])
    const [, port] = await run.line(/^stream {2}ws:\/\/127\.0\.0\.1:(\d+)\/$/m)
    const client = await connect({ port: Number(port) })
    client.join('s', 'chat', 'room-1')
    expect((await client.next()).event).toEqual({ type: 'sync', data: [] })
    run.child.kill('SIGTERM')
    expect((await client.closed()).code).toBe(1001)
    expect(await run.exited).toBe(0)
  })

  it('serves from Redis with --adapter redis --redis-url, and exits 1 with a sentence when Redis is not there', async () => {
    const redis = await startRedis()
    try {
      // A value an engine (or another instance) stored is what a client syncs.
      const inspector = new Redis(redis.url)
      await inspector.hset('stream:chat:room-1', 'm1', '{"text":"from Redis"}')
      inspector.disconnect()
      const run = cli([
        'serve',
        '--port',
        '0',
        '--no-worker-port',
        '--adapter',
        'redis',
        '--redis-url',
        redis.url,
      ])
      const [, port] = await run.line(/^stream {2}ws:\/\/127\.0\.0\.1:(\d+)\/$/m)
      const client = await connect({ port: Number(port) })
      client.join('s', 'chat', 'room-1')
      expect((await client.next()).event).toEqual({ type: 'sync', data: [{ text: 'from Redis' }] })
      run.child.kill('SIGTERM')
      expect(await run.exited).toBe(0)
    } finally {
      await redis.stop()
    }
    const away = cli([
      'serve',
      '--port',
      '0',
      '--adapter',
      'redis',
      '--redis-url',
      'redis://127.0.0.1:1',
    ])
    expect(await away.exited).toBe(1)
    expect(away.output().stderr).toMatch(/could not start: Cannot reach Redis at 127\.0\.0\.1:1/)
  })

  it('exits 1, leaving nothing open, when its port is taken (the Redis adapter included)', async () => {
    const redis = await startRedis()
    try {
      const taken = cli(['serve', '--port', '0', '--no-worker-port'])
      const [, port] = await taken.line(/^stream {2}ws:\/\/127\.0\.0\.1:(\d+)\/$/m)
      const second = cli([
        'serve',
        '--port',
        port as string,
        '--no-worker-port',
        '--adapter',
        'redis',
        '--redis-url',
        redis.url,
      ])
      expect(await second.exited).toBe(1)
      expect(second.output().stderr).toMatch(/could not start: .*EADDRINUSE/)
    } finally {
      await redis.stop()
    }
  })

  it('refuses bad arguments with a sentence and exit code 2', async () => {
    const run = cli(['serve', '--adapter', 'redis-ish'])
    expect(await run.exited).toBe(2)
    expect(run.output().stderr).toMatch(/Unknown adapter "redis-ish": use memory, file or redis\./)
    const port = cli(['serve', '--port', 'abc'])
    expect(await port.exited).toBe(2)
    expect(port.output().stderr).toMatch(/--port must be a whole number/)
  })
})
