/**
 * Fan-out of one group to N sockets: our stream server against a bare `ws` broadcast server, both
 * measured in this run, on loopback. Prints figures and ratios; it asserts nothing about timing.
 *
 * - Writer: in this process. Ours: `server.trigger(stream::set)` on an in-memory server; bare: one
 *   `JSON.stringify` of an equivalent engine frame per write, sent to every open socket.
 * - Clients: ONE separate process (`fanout-clients.ts`, spawned with tsx) holds N sockets to each
 *   server, so that with 2 cores the servers and the clients each get one.
 * - Both servers run side by side with their sockets open, and are measured in alternating rounds
 *   (bare, ours, ours, bare, ...), so that a slow spell of the machine falls on both.
 * - Throughput at saturation: writes as fast as the window below allows, ROUNDS rounds of ROUND_MS
 *   each; the figure is the deliveries the clients actually received per second, up to the last.
 * - Latency at a fixed offered load of OFFERED_DELIVERIES_PER_S (OFFERED / N writes per second,
 *   paced on a timer, ROUNDS rounds of PACED_ROUND_MS): p50 and p99 of receive time − `sentAt`,
 *   in ms.
 *
 * Run: `pnpm --filter @iii-streams/bench run bench:fanout`.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { cpus } from 'node:os'
import { PerformanceObserver } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createStreamServer, silentLogger } from '@iii-streams/server'
import { WebSocket, WebSocketServer } from 'ws'

const SIZES = [100, 1000] as const
const WARMUP_MS = 500
/** Per server and N: ROUNDS × ROUND_MS of saturation, then as much of paced load. */
const ROUNDS = 4
const ROUND_MS = 1000
/** Paced rounds are longer: at N = 1000 a round is only 10 writes (bursts of 1000 deliveries). */
const PACED_ROUND_MS = 1500
const OFFERED_DELIVERIES_PER_S = 10_000
/**
 * Backpressure of the saturation phase, in deliveries: the writer issues a write only while
 * (writes issued × N) − (deliveries the client process has reported) < WINDOW.
 *
 * Awaiting each write bounds nothing here: the in-memory adapter delivers synchronously, so a
 * write's promise settles as soon as its frames are queued on the sockets, not when they are read.
 * Counting what the clients acknowledge measures the whole path (server, kernel, client) and is
 * the same rule for both servers. The clients report every 5 ms, so the window also covers the
 * report lag; 20,000 deliveries of ~330 bytes keep at most ~66 KB per socket at N = 100 (6.6 KB
 * at N = 1000) in flight, far below the server's 4 MiB slow-consumer limit.
 */
const WINDOW = 20_000
/** Deliveries issued per event-loop turn before the writer yields, so sockets and reports flow. */
const DELIVERIES_PER_TURN = 1000
const DRAIN_TIMEOUT_MS = 20_000
const REQUEST_TIMEOUT_MS = 30_000
/** `data.pad`: makes the `{ n, sentAt, pad }` value about 200 bytes of JSON. */
const PAD = 'x'.repeat(150)

const TSX = fileURLToPath(new URL('./node_modules/.bin/tsx', import.meta.url))
const CLIENT_SCRIPT = fileURLToPath(new URL('./fanout-clients.ts', import.meta.url))

/** Wall-clock ms with sub-ms precision; the client process computes the same. */
const now = (): number => performance.timeOrigin + performance.now()
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

// A hang must not outlive the run: every wait below is bounded, and this is the last resort.
setTimeout(() => {
  console.error('fanout bench: gave up after 180 s')
  process.exit(1)
}, 180_000).unref()

interface Target {
  readonly name: 'ours' | 'bare'
  readonly url: string
  /** Clients send the join and wait for its sync (ours); the bare server gets nothing. */
  readonly join: boolean
  write(n: number): Promise<unknown> | undefined
  close(): Promise<void>
}

function benchValue(n: number): { n: number; sentAt: number; pad: string } {
  return { n, sentAt: now(), pad: PAD }
}

async function startOurs(): Promise<Target> {
  const server = await createStreamServer({ port: 0, logger: silentLogger })
  return {
    name: 'ours',
    url: `ws://127.0.0.1:${server.port}/`,
    join: true,
    write: (n) =>
      server.trigger({
        function_id: 'stream::set',
        payload: {
          stream_name: 'bench',
          group_id: 'g',
          item_id: `i${n % 100}`,
          data: benchValue(n),
        },
      }),
    close: () => server.close(),
  }
}

/** The engine's frame for a write of item `i<n % 100>`, as our server sends it to plain sockets. */
function bareFrame(n: number): string {
  return JSON.stringify({
    type: 'stream',
    timestamp: Date.now(),
    streamName: 'bench',
    groupId: 'g',
    id: `i${n % 100}`,
    event: { type: n < 100 ? 'create' : 'update', data: benchValue(n) },
  })
}

async function startBare(): Promise<Target> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false })
  await once(wss, 'listening')
  const { port } = wss.address() as AddressInfo
  return {
    name: 'bare',
    url: `ws://127.0.0.1:${port}/`,
    join: false,
    write(n) {
      // The minimal broadcast: the text is made once, then sent to every open socket.
      const text = bareFrame(n)
      for (const ws of wss.clients) if (ws.readyState === WebSocket.OPEN) ws.send(text)
      return undefined
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate()
        wss.close(() => resolve())
      }),
  }
}

interface Stats {
  delivered: number
  badFrames: number
  dropped: number
  firstAt: number
  lastAt: number
  cpuMs: number
  wallMs: number
}

type Reply = { t: string; message?: string } & Record<string, unknown>

/** The client process: commands on its stdin, replies and progress on its stdout (JSON lines). */
class Clients {
  /** Deliveries of the current phase, as last reported. */
  delivered = 0
  readonly #child: ChildProcess
  readonly #exited: Promise<void>
  #exitedYet = false
  #pending: { resolve: (reply: Reply) => void; reject: (error: Error) => void } | undefined
  #progressWaiters: (() => void)[] = []

  constructor() {
    // tsx runs the script in a node process of its own; IPC would stop at tsx, stdio does not.
    this.#child = spawn(TSX, [CLIENT_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] })
    this.#exited = new Promise((resolve) =>
      this.#child.once('exit', () => {
        this.#exitedYet = true
        this.#pending?.reject(new Error('the client process exited'))
        this.#pending = undefined
        resolve()
      }),
    )
    const lines = createInterface({ input: this.#child.stdout as NodeJS.ReadableStream })
    lines.on('line', (line) => this.#receive(line))
  }

  #receive(line: string): void {
    let reply: Reply
    try {
      reply = JSON.parse(line) as Reply
    } catch {
      console.error(`[clients] ${line}`)
      return
    }
    if (reply.t === 'p') {
      this.delivered = reply.d as number
      const waiters = this.#progressWaiters
      this.#progressWaiters = []
      for (const wake of waiters) wake()
      return
    }
    const pending = this.#pending
    this.#pending = undefined
    if (pending === undefined) console.error(`[clients] unexpected ${line}`)
    else if (reply.t === 'error') pending.reject(new Error(`clients: ${reply.message}`))
    else pending.resolve(reply)
  }

  /** Sends one command and waits for its reply (one at a time). */
  request(command: Record<string, unknown>): Promise<Reply> {
    if (this.#exitedYet) return Promise.reject(new Error('the client process has exited'))
    if (this.#pending) return Promise.reject(new Error('a request is already pending'))
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending = undefined
        reject(new Error(`clients: no answer to ${command.cmd} in ${REQUEST_TIMEOUT_MS} ms`))
      }, REQUEST_TIMEOUT_MS)
      this.#pending = {
        resolve: (reply) => {
          clearTimeout(timer)
          resolve(reply)
        },
        reject: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      }
      this.#child.stdin?.write(`${JSON.stringify(command)}\n`)
    })
  }

  /** Resolves at the next progress report, or after `timeoutMs`. */
  nextProgress(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      this.#progressWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  /** Resets the client's counters; `pool`: record latencies there. */
  async startPhase(pool?: string): Promise<void> {
    await this.request(pool === undefined ? { cmd: 'phase' } : { cmd: 'phase', pool })
    this.delivered = 0
  }

  /** Waits until `expected` deliveries are reported (bounded), then returns the phase's stats. */
  async drain(expected: number): Promise<Stats> {
    const deadline = Date.now() + DRAIN_TIMEOUT_MS
    while (this.delivered < expected && Date.now() < deadline && !this.#exitedYet)
      await this.nextProgress(50)
    return (await this.request({ cmd: 'stats' })) as unknown as Stats
  }

  async stop(): Promise<void> {
    if (!this.#exitedYet) {
      this.#child.stdin?.end(`${JSON.stringify({ cmd: 'exit' })}\n`)
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000)
      await this.#exited
      clearTimeout(timer)
    }
  }
}

interface Row {
  n: number
  server: Target['name']
  deliveriesPerSecond: number
  /** The slowest and fastest saturation round, deliveries/s. */
  roundMin: number
  roundMax: number
  serverCpu: number
  clientCpu: number
  /** Deliveries per second of this process's CPU time (server and writer). */
  perServerCpuSecond: number
  p50: number
  p99: number
  offeredPerSecond: number
  gcCount: number
  gcMaxMs: number
  notes: string[]
}

/** Sums of one server's rounds. */
class Tally {
  delivered = 0
  elapsedMs = 0
  serverCpuMs = 0
  serverWallMs = 0
  clientCpuMs = 0
  clientWallMs = 0
  roundMin = Number.POSITIVE_INFINITY
  roundMax = 0
  offered = 0
  offeredMs = 0
  /** Garbage collections of this process during the paced rounds. */
  gcCount = 0
  gcMaxMs = 0
  readonly notes: string[] = []
  readonly seq = { next: 0 }
}

/** One round of writes as fast as WINDOW allows for `durationMs`, added to `tally`. */
async function saturate(
  target: Target,
  clients: Clients,
  n: number,
  durationMs: number,
  tally: Tally,
): Promise<void> {
  await clients.startPhase()
  const writesPerTurn = Math.max(1, Math.ceil(DELIVERIES_PER_TURN / n))
  const cpuBefore = process.cpuUsage()
  const startAt = now()
  const endAt = startAt + durationMs
  let issued = 0
  while (now() < endAt) {
    if (issued * n - clients.delivered >= WINDOW) {
      await clients.nextProgress(20)
      continue
    }
    for (let k = 0; k < writesPerTurn && issued * n - clients.delivered < WINDOW; k++) {
      await target.write(tally.seq.next++)
      issued++
    }
    await turn()
  }
  const expected = issued * n
  const stats = await clients.drain(expected)
  const cpu = process.cpuUsage(cpuBefore)
  const elapsedMs = stats.lastAt - startAt
  if (stats.delivered !== expected)
    tally.notes.push(`saturation: ${stats.delivered} of ${expected} deliveries arrived`)
  if (stats.dropped > 0) tally.notes.push(`saturation: ${stats.dropped} sockets closed`)
  const rate = elapsedMs > 0 ? (stats.delivered * 1000) / elapsedMs : 0
  tally.delivered += stats.delivered
  tally.elapsedMs += elapsedMs
  tally.serverCpuMs += (cpu.user + cpu.system) / 1000
  tally.serverWallMs += now() - startAt
  tally.clientCpuMs += stats.cpuMs
  tally.clientWallMs += stats.wallMs
  tally.roundMin = Math.min(tally.roundMin, rate)
  tally.roundMax = Math.max(tally.roundMax, rate)
}

/** The tally whose paced round is running: this process's GC pauses are charged to it. */
let pacedTally: Tally | undefined
const gcObserver = new PerformanceObserver((list) => {
  if (pacedTally === undefined) return
  for (const entry of list.getEntries()) {
    pacedTally.gcCount++
    pacedTally.gcMaxMs = Math.max(pacedTally.gcMaxMs, entry.duration)
  }
})
gcObserver.observe({ entryTypes: ['gc'] })

/** One round of OFFERED / N writes a second on a timer for `durationMs`; latencies go to a pool. */
async function paced(
  target: Target,
  clients: Clients,
  n: number,
  durationMs: number,
  tally: Tally,
): Promise<void> {
  await clients.startPhase(target.name)
  const periodMs = 1000 / (OFFERED_DELIVERIES_PER_S / n)
  const count = Math.round(durationMs / periodMs)
  pacedTally = tally
  const startAt = now()
  for (let k = 0; k < count; k++) {
    // Due times are absolute: a late timer does not slow the offered load down.
    const wait = startAt + k * periodMs - now()
    if (wait > 0) await sleep(wait)
    await target.write(tally.seq.next++)
  }
  const issuedMs = now() - startAt
  const expected = count * n
  const stats = await clients.drain(expected)
  pacedTally = undefined
  if (stats.delivered !== expected)
    tally.notes.push(`latency: ${stats.delivered} of ${expected} deliveries arrived`)
  if (stats.badFrames > 0) tally.notes.push(`latency: ${stats.badFrames} frames without sentAt`)
  tally.offered += expected
  // The span the writes took: count periods, or more when the timer ran late.
  tally.offeredMs += Math.max(issuedMs, count * periodMs)
}

/** Both servers at one N, in alternating rounds. */
async function measure(n: number, clients: Clients): Promise<Row[]> {
  const targets: Target[] = []
  try {
    targets.push(await startBare(), await startOurs())
    const tallies = targets.map(() => new Tally())
    for (const target of targets)
      await clients.request({ cmd: 'open', url: target.url, n, join: target.join })
    for (const target of targets) await saturate(target, clients, n, WARMUP_MS, new Tally())
    // ABBA order: each server goes first as often as second.
    const order = (round: number) => (round % 2 === 0 ? [0, 1] : [1, 0])
    for (let round = 0; round < ROUNDS; round++)
      for (const i of order(round))
        await saturate(targets[i] as Target, clients, n, ROUND_MS, tallies[i] as Tally)
    for (let round = 0; round < ROUNDS; round++)
      for (const i of order(round))
        await paced(targets[i] as Target, clients, n, PACED_ROUND_MS, tallies[i] as Tally)
    const rows: Row[] = []
    for (const [i, target] of targets.entries()) {
      const tally = tallies[i] as Tally
      const latency = (await clients.request({ cmd: 'latency', pool: target.name })) as unknown as {
        p50: number
        p99: number
      }
      rows.push({
        n,
        server: target.name,
        deliveriesPerSecond: (tally.delivered * 1000) / tally.elapsedMs,
        roundMin: tally.roundMin,
        roundMax: tally.roundMax,
        serverCpu: tally.serverCpuMs / tally.serverWallMs,
        clientCpu: tally.clientCpuMs / tally.clientWallMs,
        perServerCpuSecond: (tally.delivered * 1000) / tally.serverCpuMs,
        p50: latency.p50,
        p99: latency.p99,
        offeredPerSecond: (tally.offered * 1000) / tally.offeredMs,
        gcCount: tally.gcCount,
        gcMaxMs: tally.gcMaxMs,
        notes: tally.notes,
      })
    }
    return rows
  } finally {
    await clients.request({ cmd: 'close' }).catch(() => undefined)
    for (const target of targets) await target.close()
  }
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a'
}

function printTable(rows: Row[]): void {
  const header = [
    'N',
    'server',
    'deliveries/s',
    'rounds min-max',
    'p50 ms',
    'p99 ms',
    'server cpu',
    'client cpu',
    'deliveries/server cpu-s',
    'paced: GCs, longest',
  ]
  const body = rows.map((row) => [
    String(row.n),
    row.server,
    Math.round(row.deliveriesPerSecond).toLocaleString('en-US'),
    `${Math.round(row.roundMin / 1000)}k-${Math.round(row.roundMax / 1000)}k`,
    fixed(row.p50, 2),
    fixed(row.p99, 2),
    `${Math.round(row.serverCpu * 100)}%`,
    `${Math.round(row.clientCpu * 100)}%`,
    Math.round(row.perServerCpuSecond).toLocaleString('en-US'),
    `${row.gcCount}, ${fixed(row.gcMaxMs, 1)} ms`,
  ])
  const widths = header.map((title, i) =>
    Math.max(title.length, ...body.map((cells) => cells[i]?.length ?? 0)),
  )
  const line = (cells: string[]) =>
    `  ${cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')}`
  console.log(line(header))
  for (const cells of body) console.log(line(cells))
}

function printRatios(rows: Row[]): void {
  for (const n of SIZES) {
    const ours = rows.find((row) => row.n === n && row.server === 'ours')
    const bare = rows.find((row) => row.n === n && row.server === 'bare')
    if (!ours || !bare) continue
    const throughput = ours.deliveriesPerSecond / bare.deliveriesPerSecond
    const p99 = ours.p99 / bare.p99
    const mark = (ok: boolean) => (ok ? 'met' : 'MISSED')
    console.log(
      `  N=${String(n).padEnd(5)} throughput ours/bare ${fixed(throughput, 2)} (goal >= 0.8: ${mark(throughput >= 0.8)})` +
        `   p99 ours/bare ${fixed(p99, 2)} (goal <= 1.5: ${mark(p99 <= 1.5)})`,
    )
  }
}

const sampleFrame = bareFrame(123456)
console.log(
  `fan-out of one group to N sockets on loopback (node ${process.version}, ${cpus().length} cpus)`,
)
console.log(
  `  frame ~${Buffer.byteLength(sampleFrame)} bytes, value ~${Buffer.byteLength(JSON.stringify(benchValue(123456)))} bytes;` +
    ` window ${WINDOW.toLocaleString('en-US')} deliveries;` +
    ` ${ROUNDS} alternating rounds per server of ${ROUND_MS} ms saturated, then of` +
    ` ${PACED_ROUND_MS} ms at ${OFFERED_DELIVERIES_PER_S.toLocaleString('en-US')} deliveries/s`,
)

const clients = new Clients()
const rows: Row[] = []
try {
  for (const n of SIZES) {
    for (const row of await measure(n, clients)) {
      rows.push(row)
      console.log(
        `  measured N=${n} ${row.server}: ${Math.round(row.deliveriesPerSecond).toLocaleString('en-US')} deliveries/s, ` +
          `p99 ${fixed(row.p99, 2)} ms at ${Math.round(row.offeredPerSecond).toLocaleString('en-US')} deliveries/s offered` +
          (row.notes.length > 0 ? ` (${row.notes.join('; ')})` : ''),
      )
    }
  }
} finally {
  gcObserver.disconnect()
  await clients.stop()
}
console.log('')
printTable(rows)
console.log('')
printRatios(rows)
console.log(
  '  (cpu: share of one core during saturation, of this process (server and writer) and of the client\n' +
    '  process; near 100% on both sides means the pair is saturated, and deliveries per server\n' +
    '  cpu-second compares the servers even when the client process is the limit. paced: garbage\n' +
    '  collections of this process during the latency rounds; at N=1000 p99 is the tail of the\n' +
    '  slowest few bursts, so one pause moves it)',
)
