import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises'
import path from 'node:path'
import { type JsonValue, parseJsonNumber } from '@iii-streams/protocol'
import { parse, stringify } from 'lossless-json'
import type { ChangeMessage, GroupRef, StreamAdapter } from './adapter.ts'
import { type GroupState, InProcessStore } from './memory.ts'

/** Where the file adapter keeps its data. */
export interface FileAdapterOptions {
  /** The data directory; created when missing. One adapter per directory at a time. */
  readonly dir: string
}

const EPOCH_FILE = 'epoch.json'
/** Present only between a clean `close()` and the next start (no `.json`: not a group file). */
const CLEAN_MARKER = 'clean-shutdown'
const GROUP_FORMAT_VERSION = 1
/** Longest encoded group file stem; longer ones are hashed (file names are capped near 255 bytes). */
const MAX_ENCODED_STEM = 200

/**
 * Items in one file per group under `options.dir`, held in memory as well (all reads are served
 * from memory). A write resolves once the group's file holding it has been written to a temporary
 * file, fsynced, renamed over the old one and the directory fsynced, so a crash at any moment
 * leaves the old or the new complete file. Writes to one group are flushed in batches: those made
 * while a flush runs share the next one.
 *
 * The epoch survives a clean `close()` only. Writes are applied in memory (and readable, through
 * `get`, `list` and `history`) before they are durable, so after a crash a client may hold a `seq`
 * whose change never reached the disk; the next write would reuse that `seq` for another change.
 * Taking a new epoch makes such clients resync. Stored items, `seq` values and history are kept.
 *
 * When a flush fails, its writes reject, but memory already holds them (they cannot be taken back
 * without undoing the writes applied after them): they are read, and become durable with the next
 * successful flush of the group (the next write to it, or `close()`); their changes are delivered
 * then, still in `seq` order.
 *
 * At start, leftover temporary files (a crash mid-write) are removed and unreadable group files
 * renamed aside (`*.unreadable`), each with a one-line warning; losing a group also takes a new
 * epoch. After `close()`, `write` and `publish` reject.
 */
export async function createFileAdapter(options: FileAdapterOptions): Promise<StreamAdapter> {
  const dir = path.resolve(options.dir)
  await mkdir(dir, { recursive: true })
  const store = new InProcessStore()
  const { files, unreadable, cleanEpoch, marker } = await load(dir, store)
  // Any doubt about the previous life (no clean close, a group file lost) means a new timeline.
  const epoch = cleanEpoch !== undefined && unreadable === 0 ? cleanEpoch : randomUUID()
  if (epoch !== cleanEpoch) await writeFileDurably(dir, EPOCH_FILE, stringify({ epoch }) as string)
  // Gone before the first write, so a crash from now on is seen as unclean by the next start.
  if (marker) {
    await unlink(path.join(dir, CLEAN_MARKER))
    await syncDirectory(dir)
  }
  return new FileAdapter(dir, epoch, store, files)
}

/** What a write or `close()` waits for: the next flush of its group. */
interface Waiter {
  resolve(): void
  reject(error: Error): void
}

/** One group's file and its flush state. */
class GroupFile {
  /** Writes waiting for the next flush. */
  waiting: Waiter[] = []
  /** Changes applied and not yet delivered, in `seq` order (those of failed flushes included). */
  undelivered: ChangeMessage[] = []
  /** Memory holds something the file does not. */
  dirty = false
  /** The flush loop, while one runs. */
  running: Promise<void> | undefined

  constructor(
    readonly ref: GroupRef,
    readonly name: string,
    /** When the group was first saved (it orders groups at start); undefined until then. */
    public createdAt: number | undefined,
  ) {}
}

class FileAdapter implements StreamAdapter {
  #closing: Promise<void> | undefined

  constructor(
    private readonly dir: string,
    readonly epoch: string,
    private readonly store: InProcessStore,
    private readonly files: Map<string, GroupFile>,
  ) {}

  get: StreamAdapter['get'] = async (ref, id) => this.store.get(ref, id)
  list: StreamAdapter['list'] = async (ref) => this.store.list(ref)
  listGroups: StreamAdapter['listGroups'] = async (stream) => this.store.listGroups(stream)
  listAll: StreamAdapter['listAll'] = async () => this.store.listAll()
  subscribe: StreamAdapter['subscribe'] = (listener) => this.store.subscribe(listener)

  write: StreamAdapter['write'] = async (ref, id, plan) => {
    if (this.#closing) throw closedError()
    const file = this.#file(ref)
    // Creating a group is a change too (it is listed), even by a write that stores nothing.
    let touched = this.store.group(ref) === undefined
    const { result, change } = this.store.apply(ref, id, (current) => {
      const planned = plan(current)
      touched ||= planned.store !== undefined || planned.change !== undefined
      return planned
    })
    if (touched) file.dirty = true
    if (change) file.undelivered.push(change)
    // A no-op write still waits when it may have read something not yet durable.
    if (file.dirty || file.running) await this.#flush(file)
    return result
  }

  publish: StreamAdapter['publish'] = async (message) => {
    if (this.#closing) throw closedError()
    this.store.deliver(message)
  }

  history: StreamAdapter['history'] = async (ref, afterSeq) => {
    const group = this.store.group(ref)
    return group ? group.history.after(afterSeq, group.seq) : afterSeq === 0 ? [] : null
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    const outcomes = await Promise.allSettled(
      [...this.files.values()].map((file) => (file.dirty ? this.#flush(file) : file.running)),
    )
    const failure = outcomes.find((outcome) => outcome.status === 'rejected')
    if (failure) {
      // No marker: the next start takes a new epoch, as after a crash.
      throw new Error(`file adapter closed with unsaved writes: ${errorText(failure.reason)}`)
    }
    await writeFileDurably(this.dir, CLEAN_MARKER, stringify({ epoch: this.epoch }) as string)
  }

  /** The group's file state, registered (as new) on its first write. */
  #file(ref: GroupRef): GroupFile {
    const key = groupKey(ref)
    let file = this.files.get(key)
    if (file === undefined) {
      file = new GroupFile(ref, groupFileName(ref), undefined)
      this.files.set(key, file)
    }
    return file
  }

  /** Resolves after the next flush of the group, which holds everything applied to it so far. */
  #flush(file: GroupFile): Promise<void> {
    return new Promise((resolve, reject) => {
      file.waiting.push({ resolve, reject })
      file.running ??= this.#run(file)
    })
  }

  async #run(file: GroupFile): Promise<void> {
    // Writes issued in the same tick (a burst of concurrent writes) join the first flush.
    await Promise.resolve()
    while (file.waiting.length > 0) {
      // Taken in one synchronous step with the snapshot: the batch is exactly what the file holds.
      const batch = file.waiting
      const changes = file.undelivered
      file.waiting = []
      file.undelivered = []
      file.dirty = false
      const group = this.store.ensureGroup(file.ref)
      const createdAt = file.createdAt ?? Date.now()
      try {
        await writeFileDurably(this.dir, file.name, encodeGroup(file.ref, group, createdAt))
      } catch (error) {
        file.dirty = true
        file.undelivered = [...changes, ...file.undelivered]
        const { stream, group: id } = file.ref
        const failure = new Error(
          `file adapter could not save group ${JSON.stringify(id)} of stream ${JSON.stringify(stream)}: ${errorText(error)}`,
          { cause: error },
        )
        for (const waiter of batch) waiter.reject(failure)
        continue
      }
      file.createdAt = createdAt
      for (const change of changes) this.#deliver(change)
      for (const waiter of batch) waiter.resolve()
    }
    file.running = undefined
  }

  /** A throwing listener must not stall the flush loop (and the writes waiting on it). */
  #deliver(change: ChangeMessage): void {
    try {
      this.store.deliver(change)
    } catch (error) {
      console.warn(`file adapter: a change listener threw: ${errorText(error)}`)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Start: what the directory holds
// ---------------------------------------------------------------------------------------------

interface Loaded {
  readonly files: Map<string, GroupFile>
  /** Group files that could not be read (their groups are missing from memory). */
  readonly unreadable: number
  /** The epoch to keep: set only when the previous run closed cleanly. */
  readonly cleanEpoch: string | undefined
  /** The clean-shutdown marker is there (to be removed before any write). */
  readonly marker: boolean
}

/** Reads every group file into `store` (in creation order), skipping what cannot be read. */
async function load(dir: string, store: InProcessStore): Promise<Loaded> {
  const groups: DecodedGroup[] = []
  let unreadable = 0
  let epoch: string | undefined
  let marker: string | undefined
  let markerFound = false
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const name = entry.name
    if (name.endsWith('.tmp')) {
      // A write cut short by a crash; the file it was replacing is complete.
      console.warn(`file adapter: removing leftover temporary file ${name}`)
      await unlink(path.join(dir, name)).catch(() => {})
    } else if (name === EPOCH_FILE || name === CLEAN_MARKER) {
      const text = await readFile(path.join(dir, name), 'utf8').catch(() => undefined)
      const value = text === undefined ? undefined : readEpoch(text)
      if (value === undefined) console.warn(`file adapter: ignoring unreadable ${name}`)
      if (name === EPOCH_FILE) epoch = value
      else {
        marker = value
        markerFound = true
      }
    } else if (name.endsWith('.json') && entry.isFile()) {
      try {
        const decoded = decodeGroup(await readFile(path.join(dir, name), 'utf8'))
        if (groupFileName(decoded.ref) !== name)
          throw new Error('its name does not match its group')
        groups.push(decoded)
      } catch (error) {
        unreadable += 1
        // Renamed aside, or the next write to its group would replace it (a read error may be
        // passing; the data may still be recoverable by hand).
        const aside = `${name}.${Date.now()}.unreadable`
        const kept = await rename(path.join(dir, name), path.join(dir, aside)).then(
          () => `renamed to ${aside}`,
          (renameError) => `left in place: ${errorText(renameError)}`,
        )
        console.warn(
          `file adapter: skipping unreadable group file ${name} (${kept}): ${errorText(error)}`,
        )
      }
    }
  }
  groups.sort(
    (a, b) =>
      a.createdAt - b.createdAt ||
      compare(a.ref.stream, b.ref.stream) ||
      compare(a.ref.group, b.ref.group),
  )
  const files = new Map<string, GroupFile>()
  for (const decoded of groups) {
    const group = store.ensureGroup(decoded.ref)
    for (const [id, value] of decoded.items) group.items.set(id, value)
    group.seq = decoded.seq
    group.history.restore(decoded.history)
    const key = groupKey(decoded.ref)
    files.set(key, new GroupFile(decoded.ref, groupFileName(decoded.ref), decoded.createdAt))
  }
  const cleanEpoch = epoch !== undefined && marker === epoch ? epoch : undefined
  return { files, unreadable, cleanEpoch, marker: markerFound }
}

function readEpoch(text: string): string | undefined {
  try {
    const value = parse(text, null, parseJsonNumber) as { epoch?: unknown }
    return typeof value?.epoch === 'string' ? value.epoch : undefined
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// Group files
// ---------------------------------------------------------------------------------------------

interface HistoryEntry {
  readonly seq: number
  readonly at: number
  readonly message: ChangeMessage
}

interface DecodedGroup {
  readonly ref: GroupRef
  readonly createdAt: number
  readonly seq: number
  readonly items: readonly (readonly [string, JsonValue])[]
  readonly history: readonly HistoryEntry[]
}

/**
 * The whole group as one JSON document; items as pairs, to keep their order and any id. History
 * entries never change once recorded, so each is serialized once: rewriting a group's history on
 * every flush would otherwise dominate the cost of a write (up to 10,000 entries per group).
 */
function encodeGroup(ref: GroupRef, group: GroupState, createdAt: number): string {
  const head = stringify({
    version: GROUP_FORMAT_VERSION,
    stream: ref.stream,
    group: ref.group,
    createdAt,
    seq: group.seq,
    items: [...group.items],
  }) as string
  const history = group.history.entries().map(entryText).join(',')
  // `head` is an object: reopen it to append the history.
  return `${head.slice(0, -1)},"history":[${history}]}`
}

const entryTexts = new WeakMap<HistoryEntry, string>()

function entryText(entry: HistoryEntry): string {
  let text = entryTexts.get(entry)
  if (text === undefined) {
    text = stringify(entry) as string
    entryTexts.set(entry, text)
  }
  return text
}

/** The group a file holds; throws, with the reason, when the file is not one the adapter wrote. */
function decodeGroup(text: string): DecodedGroup {
  const doc = parse(text, null, parseJsonNumber) as Record<string, unknown> | null
  if (typeof doc !== 'object' || doc === null) throw new Error('not a JSON object')
  const { version, stream, group, createdAt, seq, items, history } = doc
  if (version !== GROUP_FORMAT_VERSION) throw new Error(`unknown version ${String(version)}`)
  if (typeof stream !== 'string' || typeof group !== 'string') throw new Error('no stream or group')
  if (!isCount(createdAt) || !isCount(seq)) throw new Error('bad createdAt or seq')
  if (!Array.isArray(items) || !items.every(isItem)) throw new Error('bad items')
  if (!Array.isArray(history) || !history.every(isEntry)) throw new Error('bad history')
  // ChangeHistory assumes consecutive entries ending at the group's seq.
  const consecutive = history.every((entry, i) => entry.seq === seq - history.length + 1 + i)
  if (!consecutive || history.length > seq) throw new Error('history does not end at seq')
  return { ref: { stream, group }, createdAt, seq, items, history }
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

function isItem(value: unknown): value is [string, JsonValue] {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === 'string'
}

function isEntry(value: unknown): value is HistoryEntry {
  if (typeof value !== 'object' || value === null) return false
  const { seq, at, message } = value as Record<string, unknown>
  return (
    isCount(seq) &&
    typeof at === 'number' &&
    typeof message === 'object' &&
    message !== null &&
    typeof (message as { frame?: unknown }).frame === 'object'
  )
}

/**
 * The file of a group: `<stream>+<group>.json`, each name percent-encoded byte by byte outside
 * `a-z0-9-_.`. Upper case is encoded too so that names differing only in case stay apart on
 * case-insensitive file systems; `+` never survives encoding, so the split is unambiguous. Long
 * names, and names that are not well-formed UTF-16 (UTF-8 would merge their lone surrogates), are
 * hashed instead; the file holds the real names either way.
 */
function groupFileName(ref: GroupRef): string {
  const wellFormed = !LONE_SURROGATE.test(ref.stream) && !LONE_SURROGATE.test(ref.group)
  const stem = wellFormed ? `${encodeName(ref.stream)}+${encodeName(ref.group)}` : ''
  if (wellFormed && stem.length <= MAX_ENCODED_STEM) return `${stem}.json`
  const hash = createHash('sha256')
    .update(JSON.stringify([ref.stream, ref.group]))
    .digest('hex')
  return `${hash}.json`
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

function encodeName(name: string): string {
  let encoded = ''
  for (const byte of Buffer.from(name, 'utf8')) {
    const safe =
      (byte >= 0x61 && byte <= 0x7a) || // a-z
      (byte >= 0x30 && byte <= 0x39) || // 0-9
      byte === 0x2d || // -
      byte === 0x5f || // _
      byte === 0x2e // .
    encoded += safe ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, '0')}`
  }
  return encoded
}

function groupKey(ref: GroupRef): string {
  return JSON.stringify([ref.stream, ref.group])
}

// ---------------------------------------------------------------------------------------------
// Durable file replacement
// ---------------------------------------------------------------------------------------------

/**
 * Replaces `dir/name` with `text` so that a crash leaves the old or the new content, never a mix:
 * a temporary file in the same directory, fsynced, renamed over the target, then the directory
 * fsynced so the rename itself survives.
 */
async function writeFileDurably(dir: string, name: string, text: string): Promise<void> {
  const target = path.join(dir, name)
  const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`
  try {
    const handle = await open(temp, 'wx')
    try {
      await handle.writeFile(text, 'utf8')
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, target)
  } catch (error) {
    await unlink(temp).catch(() => {})
    throw error
  }
  await syncDirectory(dir)
}

async function syncDirectory(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals the rename itself.
  if (process.platform === 'win32') return
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

// ---------------------------------------------------------------------------------------------

function closedError(): Error {
  return new Error('the file adapter is closed')
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
