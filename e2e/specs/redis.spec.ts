import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { type RedisProcess, startRedis } from '@iii-streams/test-utils'
import { expect, test } from '@playwright/test'
import { SCRIPT_TAG } from './_helpers.ts'

const ROOT = resolve(import.meta.dirname, '../..')
const CLI = resolve(ROOT, 'packages/server/src/cli.ts')

/** `iii-streams serve --adapter redis` on `port`, resolved once it prints its endpoint. */
async function serve(redis: RedisProcess, port: number): Promise<ChildProcess> {
  // One process (tsx as a loader, not its wrapper), so that a SIGKILL really stops the server.
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@iii-streams/source',
      CLI,
      'serve',
      '--port',
      String(port),
      '--no-worker-port',
      '--adapter',
      'redis',
      '--redis-url',
      redis.url,
    ],
    { cwd: resolve(ROOT, 'packages/server'), stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  await new Promise<void>((done, fail) => {
    child.stdout?.on('data', (chunk) => {
      output += chunk
      if (/^stream {2}ws:/m.test(output)) done()
    })
    child.stderr?.on('data', (chunk) => {
      output += chunk
    })
    child.once('exit', (code) => fail(new Error(`the server exited (${code}): ${output}`)))
  })
  return child
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((done) => child.once('exit', done))
  child.kill('SIGKILL')
  await exited
}

/** A metric written as an iii engine on the same Redis writes it: the hash, then the channel. */
function engineWrite(redis: RedisProcess, value: number): void {
  const data = { id: 'cpu', label: 'CPU', value, unit: '%' }
  const cli = (...args: string[]) =>
    execFileSync('redis-cli', ['-p', String(redis.port), ...args], { stdio: 'pipe' })
  cli('HSET', 'stream:metrics:live', 'cpu', JSON.stringify(data))
  cli(
    'PUBLISH',
    'stream::events',
    JSON.stringify({
      type: 'stream',
      timestamp: Date.now(),
      streamName: 'metrics',
      groupId: 'live',
      id: 'cpu',
      event: { type: value === 1 ? 'create' : 'update', data },
    }),
  )
}

test('a page given two instances on one Redis keeps its live list while each instance dies in turn', async ({
  page,
}) => {
  const redis = await startRedis()
  const ports = [4312, 4313]
  const servers: ChildProcess[] = []
  try {
    for (const port of ports) servers.push(await serve(redis, port))
    engineWrite(redis, 1)
    await page.goto(
      `${SCRIPT_TAG}/?stream=${ports.map((port) => `ws://127.0.0.1:${port}`).join(',')}`,
    )
    await expect(page.getByTestId('status')).toContainText('open')
    const cpu = page.locator('[data-testid="item"][data-id="cpu"] strong')
    await expect(cpu).toHaveText('1 %')
    // Whichever instance the page is on, one of these two kills moves it to the other.
    for (const [turn, dying] of [0, 1].entries()) {
      await stop(servers[dying] as ChildProcess)
      engineWrite(redis, 10 + turn)
      await expect(cpu).toHaveText(`${10 + turn} %`)
      await expect(page.getByTestId('status')).toContainText('open')
      servers[dying] = await serve(redis, ports[dying] as number)
    }
  } finally {
    for (const server of servers) await stop(server)
    await redis.stop()
  }
})
