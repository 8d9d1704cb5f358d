import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { connect } from './_harness.ts'

const PACKAGE = resolve(import.meta.dirname, '../..')
const children: ChildProcess[] = []
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
})

/** Runs the CLI from source, as `iii-streams <args>`. */
function cli(args: string[]) {
  const child = spawn(
    join(PACKAGE, 'node_modules/.bin/tsx'),
    ['--conditions=@iii-streams/source', join(PACKAGE, 'src/cli.ts'), ...args],
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

  it('refuses bad arguments with a sentence and exit code 2', async () => {
    const run = cli(['serve', '--adapter', 'redis-ish'])
    expect(await run.exited).toBe(2)
    expect(run.output().stderr).toMatch(/Unknown adapter "redis-ish": use memory, file or redis\./)
    const port = cli(['serve', '--port', 'abc'])
    expect(await port.exited).toBe(2)
    expect(port.output().stderr).toMatch(/--port must be a whole number/)
  })
})
