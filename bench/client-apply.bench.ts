/**
 * Per-event cost of the client applying `update` frames (JSON text parsing included) to a subscribed
 * group of N items, against a baseline measured in the same run on the same frame texts:
 * `JSON.parse(text)` + `Map.set(id, data)` per frame. Prints figures and ratios; asserts nothing
 * about timing.
 *
 * - The socket is a fake transport driven through its `events` (`open`, `message`); the client's
 *   store notifications go through a `schedule` this bench flushes itself.
 * - One group subscription, held by a listener, so the client has joined and holds the cache.
 * - plain: the first frame is the sync (no hello), items carry `id`, updates carry no `seq`.
 *   extended: a `hello` first, a sync with `ids`, `seq`, `epoch` and the `subscriptionId` read from
 *   the join the client sent, then updates with consecutive `seq`.
 * - Items are `{ id, name, count, tags: [3 strings], meta: { a, b } }`, about 150 bytes of JSON.
 * - Every frame text is built before any timing: each update picks a random item and gives it a
 *   `count` no frame used before, so every update is a real change. The `seq` run continues over
 *   the whole sequence of one client, so no frame is ever a replay. Texts are flat strings decoded
 *   from bytes, as a socket hands them over, and each side parses its own copy.
 * - (a) coalesced: a burst of K frames, then one flush of the scheduled notifications and one
 *   `store.get()`; time / K. (b) per-frame flush: flush and `get()` after every frame. (c) churn:
 *   a `delete` of a random item and a `create` of a new one in turn (the baseline does `Map.delete`
 *   / `Map.set`), flush and `get()` after every frame: the group keeps its size.
 * - Every case runs once untimed before the measured pass (JIT warm-up for all code paths).
 * - Rounds alternate baseline and ours on the same slice of frames; figures are medians of rounds.
 *   The ratio is the median of the per-round ratios (each pairs two neighbouring segments, so a
 *   slow spell of the machine falls on both sides). A young-generation collection (untimed; the
 *   script runs Node with `--expose-gc`) precedes every segment. It leaves the young generation
 *   empty, and a segment of (a) allocates too little to fill it: collections inside one are rare
 *   (the bench counts them per column and side with a PerformanceObserver, and prints the
 *   counts). So (a) is the work alone, garbage collection excluded on both sides. (b) and (c)
 *   build a list per frame, so a few collections fall inside their segments, on the side that
 *   caused them. Without the forced collection a scavenge fell on whichever side filled the young
 *   generation, and single rounds of (a) swung from 0.8 to 2.5.
 * - Until 2026-11-28 two flaws inflated (a)'s ratio to about 1.7–2.0: both sides parsed the same
 *   rope strings, so whichever went first paid for flattening them (single rounds split by order,
 *   about 1.2 against 2.0), and the collection before each segment was a full one (see
 *   `collectGarbage`).
 *
 * Run: `pnpm --filter @iii-streams/bench run bench:client`.
 */
import { PerformanceObserver } from 'node:perf_hooks'
import type { CreateTransport, TransportEvents } from '@iii-streams/client'

/**
 * The client deep-freezes snapshots when `process.env.NODE_ENV !== 'production'` (a check that is
 * false in a browser, where `process` does not exist): unless NODE_ENV is set, this bench measures
 * the production path, as the client runs in the browser. `NODE_ENV=development` measures the other.
 */
process.env.NODE_ENV ??= 'production'
const { createStreamClient } = await import('@iii-streams/client')

const SIZES = [100, 1_000, 10_000] as const
const MODES = ['plain', 'extended'] as const
type Mode = (typeof MODES)[number]

/** Frames per burst in (a). */
const BURST = 1_000
/** (a): warm-up rounds (untimed), then measured rounds, each one burst of BURST frames. */
const COALESCED_WARMUP_ROUNDS = 10
const COALESCED_ROUNDS = 40
/**
 * (b) flushes after every frame, and a flush rebuilds the group's snapshot (O(N)): frames per round
 * shrink as N grows, so that each size costs about the same time.
 */
const PER_FRAME_WARMUP_ROUNDS = 5
const PER_FRAME_ROUNDS = 15
const perFrameRoundFrames = (n: number): number => Math.max(20, Math.min(BURST, 1_000_000 / n))

const GOAL = 1.5

// ----- data -----

/** A deterministic PRNG, so every run builds the same frames. */
function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Item {
  id: string
  name: string
  count: number
  tags: [string, string, string]
  meta: { a: string; b: number }
}

/** About 150 bytes of JSON. */
function makeItem(index: number, count: number): Item {
  return {
    id: `i${index}`,
    name: `Item number ${index} of the benchmark group`,
    count,
    tags: ['alpha', `tag-${index % 17}`, `group-${index % 5}`],
    meta: { a: `owner-${index % 101}@example.org`, b: index * 7 },
  }
}

const TIMESTAMP = 1_766_000_000_000

function syncText(mode: Mode, n: number, subscriptionId: string): string {
  const items = Array.from({ length: n }, (_, index) => makeItem(index, 0))
  if (mode === 'plain') {
    return JSON.stringify({
      type: 'stream',
      timestamp: TIMESTAMP,
      streamName: 's',
      groupId: 'g',
      id: null,
      event: { type: 'sync', data: items },
    })
  }
  return JSON.stringify({
    type: 'stream',
    timestamp: TIMESTAMP,
    streamName: 's',
    groupId: 'g',
    id: null,
    seq: 0,
    epoch: 'e',
    subscriptionId,
    event: { type: 'sync', data: items, ids: items.map((item) => item.id) },
  })
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * A frame's text as a socket hands it over: decoded from its bytes, so a flat string. (Text made by
 * `JSON.stringify` is a rope that the first `JSON.parse` of it flattens, a copy that the side
 * parsing it first would pay and the other would not.) Also makes the baseline's own copy.
 */
function received(text: string): string {
  return decoder.decode(encoder.encode(text))
}

/** One change frame's text; extended frames carry `seq`. */
function changeText(mode: Mode, type: string, data: Item, seq: number): string {
  const text = JSON.stringify({
    type: 'stream',
    timestamp: TIMESTAMP + seq,
    streamName: 's',
    groupId: 'g',
    id: data.id,
    ...(mode === 'extended' ? { seq } : {}),
    event: { type, data },
  })
  return received(text)
}

/**
 * `count` change frame texts, `seq` continuing from `firstSeq` (extended only); `next(i)` gives the
 * i-th frame's event type and item index.
 */
function changeTexts(
  mode: Mode,
  count: number,
  firstSeq: number,
  next: (i: number) => [type: string, index: number],
): string[] {
  return Array.from({ length: count }, (_, i) => {
    const seq = firstSeq + i
    const [type, index] = next(i)
    return changeText(mode, type, makeItem(index, seq), seq)
  })
}

/** `count` frame texts of `update`s of random items. */
function updateTexts(
  mode: Mode,
  n: number,
  count: number,
  firstSeq: number,
  random: () => number,
): string[] {
  return changeTexts(mode, count, firstSeq, () => ['update', Math.floor(random() * n)])
}

/**
 * (c)'s frames: a delete of a random live item, then a create of a new one, in turn, so the group
 * keeps its size.
 */
function churnTexts(
  mode: Mode,
  n: number,
  count: number,
  firstSeq: number,
  random: () => number,
): string[] {
  const live = Array.from({ length: n }, (_, index) => index)
  let nextIndex = n
  let slot = 0
  return changeTexts(mode, count, firstSeq, (i) => {
    if (i % 2 === 0) {
      slot = Math.floor(random() * n)
      return ['delete', live[slot] as number]
    }
    // The create takes the place (in `live`) of the item just deleted.
    live[slot] = nextIndex
    return ['create', nextIndex++]
  })
}

const HELLO =
  '{"type":"hello","version":1,"epoch":"e","heartbeatMs":15000,"limits":{"maxFrameBytes":1048576,"maxSubscriptions":1000}}'

// ----- the client under test -----

interface Harness {
  /** Feeds one frame text to the client, as its socket would. */
  message(text: string): void
  /** Runs the scheduled store notifications, then reads the group's snapshot. */
  flush(): unknown
  /** Store notifications the listener received. */
  readonly notified: () => number
  close(): void
}

function connect(mode: Mode, n: number): Harness {
  let events: TransportEvents | undefined
  const sent: string[] = []
  const transport: CreateTransport = (_url, transportEvents) => {
    events = transportEvents
    return {
      send(text) {
        sent.push(text)
        return true
      },
      start() {},
      reconnect() {},
      close() {},
      attempt: 0,
    }
  }
  let queued: (() => void)[] = []
  const client = createStreamClient({
    url: 'ws://127.0.0.1:3112',
    transport,
    schedule: (flush) => {
      queued.push(flush)
    },
    onError: (error) => {
      throw error
    },
  })
  const group = client.group('s', 'g')
  let notified = 0
  const stop = group.subscribe(() => {
    notified++
  })
  if (events === undefined) throw new Error('the client did not create its transport')
  const socket = events
  socket.open()
  if (mode === 'extended') socket.message(HELLO)
  const join = sent
    .map((text) => JSON.parse(text) as { type: string; data: { subscriptionId: string } })
    .find((frame) => frame.type === 'join')
  if (join === undefined) throw new Error('the client sent no join')
  socket.message(syncText(mode, n, join.data.subscriptionId))
  const flush = (): unknown => {
    const run = queued
    queued = []
    for (const each of run) each()
    return group.get()
  }
  const snapshot = flush() as { status: string; items: readonly unknown[] }
  if (snapshot.status !== 'ready' || snapshot.items.length !== n) {
    throw new Error(`the group did not sync: ${snapshot.status}, ${snapshot.items.length} items`)
  }
  if (client.connection.get().extensions !== (mode === 'extended')) {
    throw new Error(`the connection is not ${mode}`)
  }
  return {
    message: (text) => socket.message(text),
    flush,
    notified: () => notified,
    close() {
      stop()
      client.close()
    },
  }
}

// ----- the baseline -----

function baselineMap(n: number): Map<string, unknown> {
  const map = new Map<string, unknown>()
  for (let index = 0; index < n; index++) map.set(`i${index}`, makeItem(index, 0))
  return map
}

let sink: unknown

function runBaseline(
  map: Map<string, unknown>,
  texts: readonly string[],
  from: number,
  to: number,
) {
  for (let i = from; i < to; i++) {
    const frame = JSON.parse(texts[i] as string) as {
      id: string
      event: { type: string; data: unknown }
    }
    if (frame.event.type === 'delete') map.delete(frame.id)
    else map.set(frame.id, frame.event.data)
  }
  sink = map
}

// ----- measurement -----

/**
 * A young-generation collection before each timed segment (untimed): see the header. Not a full
 * one: nothing holds a frame between segments, so a full collection frees the hidden classes of
 * the parsed frames and throws away all the optimized code built on them (about 1,400
 * deoptimizations per run, `--trace-deopt`); each segment then began by optimizing again, which
 * costs the side with more code more.
 */
const exposedGc = (globalThis as { gc?: (options: { type: 'minor' }) => void }).gc
const collectGarbage = (): void => exposedGc?.({ type: 'minor' })

/** When collections happened, to count those inside timed segments. */
const collections: number[] = []
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) collections.push(entry.startTime)
}).observe({ entryTypes: ['gc'] })
type Column = 'a' | 'b' | 'c'
type Side = 'ours' | 'base'
/** Timed segments, to match against `collections` at the end. */
const segments: { column: Column; side: Side; t0: number; t1: number }[] = []

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

interface Figure {
  /** Medians over rounds, µs per frame. */
  readonly oursUs: number
  readonly baselineUs: number
  /** Median over rounds of ours / baseline in the same round. */
  readonly ratio: number
}

/**
 * Rounds of `perRound` frames from `texts` starting at `start`: the first `warmup` untimed, then
 * `rounds` timed, alternating which side goes first. Returns medians in µs per frame.
 */
function measure(
  harness: Harness,
  map: Map<string, unknown>,
  texts: readonly string[],
  start: number,
  perRound: number,
  warmup: number,
  rounds: number,
  column: Column,
): Figure {
  const flushEveryFrame = column !== 'a'
  // The baseline parses its own copy of this column's texts (from `start`): reading the texts the
  // other side has just read would find them in the processor's cache.
  const baselineTexts = texts.slice(start, start + (warmup + rounds) * perRound).map(received)
  const ours: number[] = []
  const baseline: number[] = []
  const ratios: number[] = []
  const runOurs = (from: number, to: number): void => {
    if (flushEveryFrame) {
      for (let i = from; i < to; i++) {
        harness.message(texts[i] as string)
        sink = harness.flush()
      }
    } else {
      for (let i = from; i < to; i++) harness.message(texts[i] as string)
      sink = harness.flush()
    }
  }
  for (let round = 0; round < warmup + rounds; round++) {
    const from = start + round * perRound
    const to = from + perRound
    const timed = (side: Side, run: () => void): number => {
      collectGarbage()
      const t0 = performance.now()
      run()
      const t1 = performance.now()
      segments.push({ column, side, t0, t1 })
      return t1 - t0
    }
    const timeOurs = () => timed('ours', () => runOurs(from, to))
    const timeBaseline = () =>
      timed('base', () => runBaseline(map, baselineTexts, from - start, to - start))
    let oursMs: number
    let baselineMs: number
    if (round % 2 === 0) {
      baselineMs = timeBaseline()
      oursMs = timeOurs()
    } else {
      oursMs = timeOurs()
      baselineMs = timeBaseline()
    }
    if (round >= warmup) {
      ours.push((oursMs * 1000) / perRound)
      baseline.push((baselineMs * 1000) / perRound)
      ratios.push(oursMs / baselineMs)
    }
  }
  return { oursUs: median(ours), baselineUs: median(baseline), ratio: median(ratios) }
}

interface Row {
  readonly mode: Mode
  readonly n: number
  readonly itemBytes: number
  readonly frameBytes: number
  readonly coalesced: Figure
  readonly perFrame: Figure
  readonly churn: Figure
}

function benchOne(mode: Mode, n: number): Row {
  const random = prng(n * 31 + (mode === 'plain' ? 1 : 2))
  const coalescedFrames = (COALESCED_WARMUP_ROUNDS + COALESCED_ROUNDS) * BURST
  const perRound = perFrameRoundFrames(n)
  const perFrameFrames = (PER_FRAME_WARMUP_ROUNDS + PER_FRAME_ROUNDS) * perRound
  // One continuous seq run per client: (a)'s frames, then (b)'s, then (c)'s.
  const texts = updateTexts(mode, n, coalescedFrames + perFrameFrames, 1, random)
  const churnFrames = (PER_FRAME_WARMUP_ROUNDS + PER_FRAME_ROUNDS) * perRound
  const churn = churnTexts(mode, n, churnFrames, coalescedFrames + perFrameFrames + 1, random)
  const sample = texts.slice(0, 1000)
  const frameBytes = Math.round(sample.reduce((sum, text) => sum + text.length, 0) / sample.length)
  const itemBytes = Math.round(
    sample.reduce(
      (sum, text) =>
        sum + JSON.stringify((JSON.parse(text) as { event: { data: unknown } }).event.data).length,
      0,
    ) / sample.length,
  )
  const harness = connect(mode, n)
  const map = baselineMap(n)
  const notifiedBefore = harness.notified()
  const coalesced = measure(
    harness,
    map,
    texts,
    0,
    BURST,
    COALESCED_WARMUP_ROUNDS,
    COALESCED_ROUNDS,
    'a',
  )
  const perFrame = measure(
    harness,
    map,
    texts,
    coalescedFrames,
    perRound,
    PER_FRAME_WARMUP_ROUNDS,
    PER_FRAME_ROUNDS,
    'b',
  )
  const churned = measure(
    harness,
    map,
    churn,
    0,
    perRound,
    PER_FRAME_WARMUP_ROUNDS,
    PER_FRAME_ROUNDS,
    'c',
  )
  // Every burst and every frame of (b) and (c) changed the group: each must have reached the
  // listener once, and the group kept its size.
  const expected = COALESCED_WARMUP_ROUNDS + COALESCED_ROUNDS + perFrameFrames + churnFrames
  const notified = harness.notified() - notifiedBefore
  const size = (harness.flush() as { items: readonly unknown[] }).items.length
  harness.close()
  if (notified !== expected || size !== n || map.size !== n) {
    throw new Error(
      `${mode} N=${n}: ${notified} notifications (expected ${expected}), ${size} items, baseline ${map.size}`,
    )
  }
  return { mode, n, itemBytes, frameBytes, coalesced, perFrame, churn: churned }
}

// ----- report -----

const us = (value: number): string => value.toFixed(3).padStart(8)

const started = performance.now()
// One untimed pass over every case first: the first case measured otherwise pays for the JIT
// compiling the client's and the baseline's code paths (it showed ratios up to 2.2 alone).
for (const mode of MODES) for (const n of SIZES) benchOne(mode, n)
const rows: Row[] = []
for (const mode of MODES) for (const n of SIZES) rows.push(benchOne(mode, n))

console.log(
  'client: applying `update` frames to a subscribed group (µs per frame, JSON parsing included)',
)
console.log(
  `  NODE_ENV=${process.env.NODE_ENV} (${process.env.NODE_ENV === 'production' ? 'no dev-mode deep freeze' : 'dev-mode deep freeze of snapshots'}), Node ${process.version}`,
)
console.log(
  '  baseline: JSON.parse(text) + Map.set(id, data) per frame, same frame texts (its own copy), same run',
)
console.log('  µs: medians of rounds; ratio: median of the per-round ratios ours / baseline')
console.log(
  `  (a) coalesced: bursts of ${BURST} frames, then one flush + one get()  [goal: ours/baseline ≤ ${GOAL}]`,
)
console.log('  (b) per-frame: flush + get() after every frame  [no goal]')
console.log(
  '  (c) churn: a delete and a create in turn (Map.delete / Map.set in the baseline), flush + get() after every frame  [no goal]',
)
console.log('')
console.log(
  `  ${'mode'.padEnd(8)} ${'N'.padStart(6)} ${'item/frame B'.padStart(12)} │ ${'(a) ours'.padStart(8)} ${'base'.padStart(8)} ${'ratio'.padStart(6)} goal │ ${'(b) ours'.padStart(8)} ${'base'.padStart(8)} ${'ratio'.padStart(7)} │ ${'(c) ours'.padStart(8)} ${'base'.padStart(8)} ${'ratio'.padStart(7)}`,
)
let misses = 0
for (const row of rows) {
  const a = row.coalesced.ratio
  const b = row.perFrame.ratio
  const met = a <= GOAL
  if (!met) misses++
  console.log(
    `  ${row.mode.padEnd(8)} ${row.n.toLocaleString('en-US').padStart(6)} ${`${row.itemBytes}/${row.frameBytes}`.padStart(12)} │ ${us(row.coalesced.oursUs)} ${us(row.coalesced.baselineUs)} ${a.toFixed(2).padStart(6)} ${met ? ' ok ' : 'MISS'} │ ${us(row.perFrame.oursUs)} ${us(row.perFrame.baselineUs)} ${b.toFixed(2).padStart(7)} │ ${us(row.churn.oursUs)} ${us(row.churn.baselineUs)} ${row.churn.ratio.toFixed(2).padStart(7)}`,
  )
}
console.log('')
console.log(
  `  goal (a) ≤ ${GOAL} at every size: ${misses === 0 ? 'met' : `missed in ${misses} of ${rows.length}`}` +
    `  (${((performance.now() - started) / 1000).toFixed(1)} s)`,
)
// The observer reports after the current task.
await new Promise((resolve) => setTimeout(resolve, 0))
const inside = (column: Column, side: Side): number =>
  collections.filter((at) =>
    segments.some(
      (each) => each.column === column && each.side === side && at >= each.t0 && at <= each.t1,
    ),
  ).length
console.log(
  `  garbage collections inside timed segments (ours/base): (a) ${inside('a', 'ours')}/${inside('a', 'base')}` +
    ` (b) ${inside('b', 'ours')}/${inside('b', 'base')} (c) ${inside('c', 'ours')}/${inside('c', 'base')};` +
    ' every segment starts with an empty young generation',
)
if (sink === undefined) throw new Error('benchmark produced nothing')
