import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type JsonValue, MISSING, parseJsonNumber } from '@iii-streams/protocol'
import { parse } from 'lossless-json'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type {
  ChangeMessage,
  GroupRef,
  Stored,
  StreamAdapter,
  WritePlan,
} from '../adapters/adapter.ts'
import { createFileAdapter } from '../adapters/file.ts'
import { runThenKill } from './_harness.ts'

const here = path.dirname(fileURLToPath(import.meta.url))
const WRITER = path.join(here, 'fixtures/file-writer.ts')

const dirs: string[] = []
const open: StreamAdapter[] = []

afterEach(async () => {
  vi.restoreAllMocks()
  await Promise.allSettled(open.splice(0).map((adapter) => adapter.close()))
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'iii-file-adapter-'))
  dirs.push(dir)
  return dir
}

async function start(dir: string): Promise<StreamAdapter> {
  const adapter = await createFileAdapter({ dir })
  open.push(adapter)
  return adapter
}

async function restart(adapter: StreamAdapter, dir: string): Promise<StreamAdapter> {
  await adapter.close()
  return start(dir)
}

/** Stores `value` and emits a create or update; returns what was stored before. */
function set(ref: GroupRef, id: string, value: JsonValue) {
  return (current: Stored): WritePlan<{ old: Stored }> => ({
    store: value,
    change: (seq) => ({
      frame: {
        type: 'stream',
        timestamp: Date.now(),
        streamName: ref.stream,
        groupId: ref.group,
        id,
        event: { type: current === MISSING ? 'create' : 'update', data: value },
        seq,
      },
    }),
    result: { old: current },
  })
}

/** Deletes the item and emits a delete; does nothing (no seq) when it is missing. */
function remove(ref: GroupRef, id: string) {
  return (current: Stored): WritePlan<{ old: Stored }> =>
    current === MISSING
      ? { result: { old: current } }
      : {
          store: MISSING,
          change: (seq) => ({
            frame: {
              type: 'stream',
              timestamp: Date.now(),
              streamName: ref.stream,
              groupId: ref.group,
              id,
              event: { type: 'delete', data: current },
              seq,
            },
          }),
          result: { old: current },
        }
}

/** `{ __proto__: inner, ...rest }` with `__proto__` as an own data key, as a lossless parse makes it. */
function withProtoKey(inner: JsonValue, rest: Record<string, JsonValue>): JsonValue {
  const object: Record<string, JsonValue> = {}
  Object.defineProperty(object, '__proto__', {
    value: inner,
    enumerable: true,
    writable: true,
    configurable: true,
  })
  return Object.assign(object, rest)
}

function expectProtoKey(value: Stored, inner: JsonValue): void {
  expect(typeof value).toBe('object')
  const object = value as object
  expect(Object.getPrototypeOf(object)).toBe(Object.prototype)
  expect(Object.getOwnPropertyDescriptor(object, '__proto__')?.value).toEqual(inner)
}

const chat: GroupRef = { stream: 'chat', group: 'room-1' }
const BIG = 12345678901234567890n

describe('file adapter', () => {
  it('round-trips items, bigints and own __proto__ keys, in memory and after a restart', async () => {
    const dir = await tempDir()
    let adapter = await start(dir)
    const value = withProtoKey({ polluted: true }, { big: BIG, list: [1, 'two', null] })
    expect(await adapter.write(chat, 'a', set(chat, 'a', value))).toEqual({ old: MISSING })
    await adapter.write(chat, 'b', set(chat, 'b', 2))
    await adapter.write({ stream: 'chat', group: 'room-0' }, 'x', set(chat, 'x', 'x'))
    await adapter.write({ stream: 'alerts', group: 'all' }, 'y', set(chat, 'y', true))

    for (let round = 0; round < 2; round++) {
      const a = await adapter.get(chat, 'a')
      expect(a.seq).toBe(2)
      expectProtoKey(a.value, { polluted: true })
      expect((a.value as Record<string, JsonValue>).big).toBe(BIG)
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      const list = await adapter.list(chat)
      expect(list.ids).toEqual(['a', 'b'])
      expect(list.values[1]).toBe(2)
      expect(list.seq).toBe(2)
      expect((await adapter.listGroups('chat')).sort()).toEqual(['room-0', 'room-1'])
      expect(await adapter.listAll()).toEqual([
        { id: 'alerts', groups: ['all'] },
        { id: 'chat', groups: ['room-0', 'room-1'] },
      ])
      adapter = await restart(adapter, dir)
    }
  })

  it('keeps order, seq, epoch and history across a clean restart', async () => {
    const dir = await tempDir()
    const first = await start(dir)
    for (const id of ['c', 'a', 'b']) await first.write(chat, id, set(chat, id, id))
    await first.write(chat, 'c', set(chat, 'c', 'c2'))
    const history = await first.history(chat, 0)
    expect(history?.map((message) => message.frame.seq)).toEqual([1, 2, 3, 4])

    const second = await restart(first, dir)
    expect(second.epoch).toBe(first.epoch)
    const list = await second.list(chat)
    expect(list.ids).toEqual(['c', 'a', 'b'])
    expect(list.values).toEqual(['c2', 'a', 'b'])
    expect(list.seq).toBe(4)
    expect(await second.history(chat, 0)).toEqual(history)
    expect((await second.history(chat, 2))?.map((message) => message.frame.seq)).toEqual([3, 4])
    expect(await second.history(chat, 4)).toEqual([])
    expect(await second.history(chat, 5)).toBeNull()
    // The next change continues the group's timeline.
    await second.write(chat, 'd', set(chat, 'd', 'd'))
    expect((await second.get(chat, 'd')).seq).toBe(5)
  })

  it('deletes items, durably', async () => {
    const dir = await tempDir()
    const adapter = await start(dir)
    await adapter.write(chat, 'a', set(chat, 'a', 1))
    await adapter.write(chat, 'b', set(chat, 'b', 2))
    expect(await adapter.write(chat, 'a', remove(chat, 'a'))).toEqual({ old: 1 })
    expect(await adapter.get(chat, 'a')).toEqual({ value: MISSING, seq: 3 })

    const again = await restart(adapter, dir)
    expect(await again.get(chat, 'a')).toEqual({ value: MISSING, seq: 3 })
    expect((await again.list(chat)).ids).toEqual(['b'])
  })

  it('reports MISSING for absent items and groups, and a no-op write takes no seq', async () => {
    const dir = await tempDir()
    const adapter = await start(dir)
    const nowhere = { stream: 'none', group: 'none' }
    expect(await adapter.get(nowhere, 'x')).toEqual({ value: MISSING, seq: 0 })
    expect(await adapter.list(nowhere)).toEqual({ ids: [], values: [], seq: 0 })
    expect(await adapter.history(nowhere, 0)).toEqual([])
    expect(await adapter.history(nowhere, 1)).toBeNull()

    await adapter.write(chat, 'a', set(chat, 'a', null))
    expect(await adapter.get(chat, 'a')).toEqual({ value: null, seq: 1 })
    expect(await adapter.write(chat, 'a', set(chat, 'a', 0))).toEqual({ old: null })
    expect(await adapter.write(chat, 'gone', remove(chat, 'gone'))).toEqual({ old: MISSING })
    expect((await adapter.list(chat)).seq).toBe(2)
    // A write that stores nothing still creates (and lists) its group.
    await adapter.write(nowhere, 'x', remove(nowhere, 'x'))
    expect(await adapter.listGroups('none')).toEqual(['none'])

    const again = await restart(adapter, dir)
    expect(await again.get(chat, 'gone')).toEqual({ value: MISSING, seq: 2 })
    expect(await again.get(chat, 'a')).toEqual({ value: 0, seq: 2 })
    expect(await again.listGroups('none')).toEqual(['none'])
  })

  it('batches concurrent writes to a group; all resolve, persist and deliver in seq order', async () => {
    const dir = await tempDir()
    const adapter = await start(dir)
    const delivered: ChangeMessage[] = []
    // A flush delivers its changes in one synchronous run: count the runs to count the flushes.
    let flushes = 0
    let inRun = false
    adapter.subscribe((message) => {
      delivered.push(message)
      if (inRun) return
      inRun = true
      flushes++
      queueMicrotask(() => {
        inRun = false
      })
    })
    const count = 500
    const results = await Promise.all(
      Array.from({ length: count }, (_, i) => adapter.write(chat, `i${i}`, set(chat, `i${i}`, i))),
    )
    expect(results.every((result) => result.old === MISSING)).toBe(true)
    const seqs = delivered.map((message) => message.frame.seq as number)
    expect(seqs).toEqual(Array.from({ length: count }, (_, i) => i + 1))
    expect(flushes).toBe(1)

    // Writes made while a flush runs join the next one, and are delivered after it.
    const first = adapter.write(chat, 'first', set(chat, 'first', 0))
    await new Promise((resolve) => setImmediate(resolve))
    const more = Array.from({ length: 50 }, (_, i) =>
      adapter.write(chat, `late${i}`, set(chat, `late${i}`, i)),
    )
    expect(delivered).toHaveLength(count)
    await Promise.all([first, ...more])
    expect(flushes).toBe(3)
    expect(delivered.map((message) => message.frame.seq)).toEqual(
      Array.from({ length: count + 51 }, (_, i) => i + 1),
    )

    const again = await restart(adapter, dir)
    const list = await again.list(chat)
    expect(list.seq).toBe(count + 51)
    expect(list.ids.slice(0, count)).toEqual(Array.from({ length: count }, (_, i) => `i${i}`))
  })

  it('keeps distinct names apart and safe on disk', async () => {
    const dir = await tempDir()
    let adapter = await start(dir)
    const refs: GroupRef[] = [
      { stream: 'A', group: 'a' },
      { stream: 'a', group: 'a' },
      { stream: 'a+b', group: '' },
      { stream: 'a', group: '+b' },
      { stream: '../..', group: '/etc/passwd' },
      { stream: 'épée 🗡', group: 'CON' },
      { stream: 'x'.repeat(256), group: 'é'.repeat(128) },
      { stream: '\ud800', group: 'lone' },
      { stream: '\ud801', group: 'lone' },
    ]
    for (const [i, ref] of refs.entries()) await adapter.write(ref, 'id', set(ref, 'id', i))
    for (const name of await readdir(dir)) {
      expect(Buffer.byteLength(name)).toBeLessThan(255)
      expect(name).toMatch(/^[a-z0-9%+._-]+$/)
    }
    adapter = await restart(adapter, dir)
    for (const [i, ref] of refs.entries()) expect((await adapter.get(ref, 'id')).value).toBe(i)
  })

  it('skips leftover temporary files and unreadable group files, and takes a new epoch', async () => {
    const dir = await tempDir()
    const first = await start(dir)
    await first.write(chat, 'a', set(chat, 'a', 1))
    await first.close()
    await writeFile(path.join(dir, 'chat+room-1.json.0123abcd.tmp'), '{"version":1,"str')
    await writeFile(path.join(dir, 'garbage.json'), 'not json at all')
    await writeFile(path.join(dir, 'other+group.json'), '{"version":1}')
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})

    const second = await start(dir)
    const warnings = warn.mock.calls.map((call) => String(call[0]))
    expect(warnings).toHaveLength(3)
    expect(warnings.every((line) => !line.includes('\n'))).toBe(true)
    expect(warnings.filter((line) => line.includes('temporary'))).toHaveLength(1)
    expect(warnings.filter((line) => line.includes('garbage.json'))).toHaveLength(1)
    // A lost group file may have held seq values clients still hold: they must resync.
    expect(second.epoch).not.toBe(first.epoch)
    expect(await second.get(chat, 'a')).toEqual({ value: 1, seq: 1 })
    const names = await readdir(dir)
    expect(names.filter((name) => name.endsWith('.tmp'))).toEqual([])
    // Kept aside for a human, so that no write replaces them and the next start is clean.
    expect(names.filter((name) => name.endsWith('.unreadable'))).toHaveLength(2)
    const third = await restart(second, dir)
    expect(third.epoch).toBe(second.epoch)
  })

  it('takes a new epoch after an unclean stop, keeping items, seq and history', async () => {
    const dir = await tempDir()
    const first = await start(dir)
    await first.write(chat, 'a', set(chat, 'a', 1))
    // Not closed: as if the process had died.
    const second = await start(dir)
    expect(second.epoch).not.toBe(first.epoch)
    expect(await second.get(chat, 'a')).toEqual({ value: 1, seq: 1 })
    expect(await second.history(chat, 0)).toHaveLength(1)
    const third = await restart(second, dir)
    expect(third.epoch).toBe(second.epoch)
  })

  it('waits for pending flushes on close, then rejects writes', async () => {
    const dir = await tempDir()
    const adapter = await start(dir)
    const pending = Array.from({ length: 20 }, (_, i) =>
      adapter.write(chat, `i${i}`, set(chat, `i${i}`, i)),
    )
    await adapter.close()
    await Promise.all(pending)
    await expect(adapter.write(chat, 'late', set(chat, 'late', 0))).rejects.toThrow(/closed/)
    const again = await start(dir)
    expect((await again.list(chat)).seq).toBe(20)
  })

  it('rejects a write that cannot be saved, stays up, and saves and delivers it with the next', async () => {
    const dir = await tempDir()
    const adapter = await start(dir)
    const delivered: number[] = []
    adapter.subscribe((message) => delivered.push(message.frame.seq as number))
    await adapter.write(chat, 'a', set(chat, 'a', 1))
    const [file] = (await readdir(dir)).filter((name) => name.startsWith('chat+'))
    const target = path.join(dir, file as string)
    // A directory where the group file goes: the rename over it fails.
    await rm(target)
    await mkdir(target)
    await expect(adapter.write(chat, 'b', set(chat, 'b', 2))).rejects.toThrow(/could not save/)
    expect(delivered).toEqual([1])
    await rmdir(target)
    await adapter.write(chat, 'c', set(chat, 'c', 3))
    expect(delivered).toEqual([1, 2, 3])
    const again = await restart(adapter, dir)
    expect((await again.list(chat)).ids).toEqual(['a', 'b', 'c'])
  })

  it('loses no acknowledged write when the process is killed mid-write', async () => {
    const dir = await tempDir()
    const lines = await runThenKill(WRITER, [dir], 200)

    const [epochLine, ...acks] = lines
    expect(epochLine).toMatch(/^epoch /)
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const adapter = await start(dir)
    const unreadable = warn.mock.calls.filter((call) => !String(call[0]).includes('temporary'))
    expect(unreadable).toEqual([])
    expect(adapter.epoch).not.toBe(epochLine?.slice('epoch '.length))
    expect(acks.length).toBeGreaterThanOrEqual(200)
    for (const ack of acks) {
      const [group, id, seq] = ack.split(' ')
      const ref = { stream: 'crash', group: group as string }
      const stored = await adapter.get(ref, id as string)
      expect(stored.value).toEqual({ n: Number((id as string).slice('item-'.length)) })
      expect(stored.seq).toBeGreaterThanOrEqual(Number(seq))
    }
    for (const name of await readdir(dir)) {
      if (!name.endsWith('.json')) continue
      const doc = parse(await readFile(path.join(dir, name), 'utf8'), null, parseJsonNumber)
      expect(doc).toBeTypeOf('object')
    }
  })
})
