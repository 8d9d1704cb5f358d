import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { connectExtended, runThenKill, startServer } from './_harness.ts'

describe('the file adapter under kill -9', () => {
  it('keeps every acknowledged write of a killed server, with its seq, and starts a new epoch', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iii-crash-'))
    const [epochLine, ...acks] = await runThenKill(
      join(import.meta.dirname, 'fixtures/server-writer.ts'),
      [dir],
      150,
    )
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
