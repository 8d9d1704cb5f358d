import { readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { StreamServer } from '../index.ts'
import { connect, withoutTimestamp } from './_harness.ts'

const PACKAGE = resolve(import.meta.dirname, '../..')

/** The README's "Quick start" code, as a reader copies it. */
function quickStart(): string {
  const readme = readFileSync(join(PACKAGE, 'README.md'), 'utf8')
  const code = /## Quick start\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1]
  if (code === undefined) throw new Error('README.md has no "Quick start" TypeScript block')
  return code
}

describe("the README's quick start", () => {
  it('runs as written: the item it writes is synced, and its join rule lets the admin in only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iii-streams-readme-'))
    let server: StreamServer | undefined
    try {
      // Only what a test must change: a free port, a scratch data directory, this package's source,
      // and a quiet console.
      const code = quickStart()
        .replace('port: 3112', 'port: 0')
        .replace(`dir: './data'`, `dir: ${JSON.stringify(join(dir, 'data'))}`)
        .replace(
          `from '@iii-streams/server'`,
          `from ${JSON.stringify(join(PACKAGE, 'src/index.ts'))}`,
        )
        .replace(/^console\.log\(.*$/m, 'export { server }')
      expect(code).toContain('export { server }')
      const file = join(dir, 'quick-start.ts')
      writeFileSync(file, code)
      server = ((await import(file)) as { server: StreamServer }).server

      const reader = await connect(server)
      reader.join('sub-1', 'chat', 'room-1')
      expect(withoutTimestamp(await reader.next())).toMatchObject({
        streamName: 'chat',
        groupId: 'room-1',
        event: { type: 'sync', data: [{ id: 'm1', text: 'hi' }] },
      })

      const admin = await connect(server, '/?token=admin')
      admin.join('sub-1', 'chat', 'staff')
      expect((await admin.next()).event).toEqual({ type: 'sync', data: [] })
      const bob = await connect(server, '/?token=bob')
      bob.join('sub-1', 'chat', 'staff')
      expect((await bob.next()).event).toEqual({ type: 'unauthorized' })
    } finally {
      await server?.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
