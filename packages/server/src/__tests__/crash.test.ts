import { spawn } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { connectExtended, startServer } from './_harness.ts'

const PACKAGE = resolve(import.meta.dirname, '../..')

/** Runs the writer in its own process group (tsx forks), and kills the group with SIGKILL after `acks` lines. */
async function writeThenKill(dir: string, acks: number): Promise<string[]> {
  const child = spawn(
    join(PACKAGE, 'node_modules/.bin/tsx'),
    [
      '--conditions=@iii-streams/source',
      join(import.meta.dirname, 'fixtures/server-writer.ts'),
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  )
  let stderr = ''
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  const exited = new Promise<void>((done) => child.on('exit', () => done()))
  const lines: string[] = []
  await new Promise<void>((done, fail) => {
    let buffered = ''
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8')
      const parts = buffered.split('\n')
      buffered = parts.pop() ?? ''
      lines.push(...parts)
      if (lines.length > acks && child.pid !== undefined) {
        process.kill(-child.pid, 'SIGKILL')
        done()
      }
    })
    child.on('exit', () => fail(new Error(`the writer stopped early: ${stderr}`)))
  })
  await exited
  return lines
}

describe('the file adapter under kill -9', () => {
  it('keeps every acknowledged write of a killed server, with its seq, and starts a new epoch', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iii-crash-'))
    const [epochLine, ...acks] = await writeThenKill(dir, 150)
    const server = await startServer({ adapter: { type: 'file', dir } })
    expect(server.epoch).not.toBe(epochLine?.slice('epoch '.length))
    const client = await connectExtended(server)
    const acked = new Map<string, string[]>()
    for (const ack of acks) {
      const [group, id] = ack.split(' ') as [string, string]
      acked.set(group, [...(acked.get(group) ?? []), id])
    }
    for (const [group, ids] of acked) {
      client.join(group, 'crash', group)
      const sync = await client.next()
      for (const id of ids) {
        const at = sync.event.ids.indexOf(id)
        expect(at, `${group}/${id}`).toBeGreaterThanOrEqual(0)
        expect(sync.event.data[at]).toEqual({ id })
      }
      // Every write took one seq: the group's seq counts at least the acknowledged ones.
      expect(sync.seq).toBeGreaterThanOrEqual(ids.length)
      expect(sync.epoch).toBe(server.epoch)
    }
  })
})
