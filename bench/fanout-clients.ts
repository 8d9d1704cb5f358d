/**
 * The client side of `fanout.bench.ts`, run in its own process so that receiving does not share the
 * server's event loop. It holds the sockets of both servers, counts the frames they receive and,
 * when asked, records latency = receive time − `sentAt` of each delivery into a named pool.
 *
 * Protocol (JSON lines): commands on stdin, replies and progress on stdout.
 *   {"cmd":"open","url","n","join"} → {"t":"ready"}  (adds n sockets; join: send it, await the sync)
 *   {"cmd":"phase","pool"?}          → {"t":"phase"}  (counters reset; pool: keep latencies there)
 *   {"cmd":"stats"}                  → {"t":"stats",...}  (of the phase)
 *   {"cmd":"latency","pool"}         → {"t":"latency","p50","p99","max","samples"}
 *   {"cmd":"close"}                  → {"t":"closed"}  (every socket; pools emptied)
 *   {"cmd":"exit"} or stdin's end    → exits
 * While a phase runs, {"t":"p","d":<deliveries so far>} is written every PROGRESS_MS when it changed.
 *
 * Not run on its own: `fanout.bench.ts` spawns it.
 */
import { createInterface } from 'node:readline'
import { WebSocket } from 'ws'

const PROGRESS_MS = 5
/** Sockets opened at once (the server's listen backlog is 511). */
const OPEN_BATCH = 50
const OPEN_TIMEOUT_MS = 20_000
const CLOSE_TIMEOUT_MS = 3_000
/** Latency samples kept per pool (a pool gets about 30,000). */
const MAX_SAMPLES = 1 << 20

const JOIN = JSON.stringify({
  type: 'join',
  data: { subscriptionId: 's', streamName: 'bench', groupId: 'g' },
})
const SENT_AT = Buffer.from('"sentAt":')

const now = (): number => performance.timeOrigin + performance.now()

let sockets: WebSocket[] = []
let delivered = 0
let reported = 0
/** Where this phase's latencies go; none when undefined. */
let pool: number[] | undefined
const pools = new Map<string, number[]>()
let badFrames = 0
/** Sockets the server closed while they were in use (e.g. as slow consumers). */
let dropped = 0
let closing = false
let firstAt = 0
let lastAt = 0
let cpuAtPhase = process.cpuUsage()
let phaseStartedAt = now()

function reply(message: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(message)}\n`)
}

/** `sentAt` read straight from the frame's bytes: cheaper than parsing each frame. */
function sentAtOf(frame: Buffer): number {
  const at = frame.indexOf(SENT_AT)
  if (at < 0) return Number.NaN
  const start = at + SENT_AT.length
  let end = start
  while (end < frame.length) {
    const c = frame[end] as number
    // digits . - + e E
    if ((c >= 48 && c <= 57) || c === 46 || c === 45 || c === 43 || c === 101 || c === 69) end++
    else break
  }
  return Number(frame.toString('latin1', start, end))
}

function onFrame(data: unknown): void {
  const receivedAt = now()
  delivered++
  if (firstAt === 0) firstAt = receivedAt
  lastAt = receivedAt
  if (pool === undefined) return
  const sentAt = Buffer.isBuffer(data) ? sentAtOf(data) : Number.NaN
  if (Number.isNaN(sentAt)) badFrames++
  else if (pool.length < MAX_SAMPLES) pool.push(receivedAt - sentAt)
}

function openOne(url: string, join: boolean): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true })
    let ready = false
    ws.once('error', (error) => {
      if (!ready) reject(error)
    })
    ws.once('close', () => {
      if (!ready) reject(new Error('closed before ready'))
      else if (!closing) dropped++
    })
    ws.once('open', () => {
      if (!join) {
        ready = true
        ws.on('message', onFrame)
        resolve(ws)
        return
      }
      // The first frame after a join is its sync: not a delivery.
      ws.once('message', () => {
        ready = true
        ws.on('message', onFrame)
        resolve(ws)
      })
      ws.send(JOIN)
    })
  })
}

async function open(url: string, n: number, join: boolean): Promise<void> {
  const deadline = Date.now() + OPEN_TIMEOUT_MS
  for (let i = 0; i < n; i += OPEN_BATCH) {
    if (Date.now() > deadline)
      throw new Error(`opening ${n} sockets took over ${OPEN_TIMEOUT_MS} ms`)
    const batch = Array.from({ length: Math.min(OPEN_BATCH, n - i) }, () => openOne(url, join))
    sockets.push(...(await Promise.all(batch)))
  }
}

async function closeAll(): Promise<void> {
  closing = true
  const closes = sockets.map(
    (ws) =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve()
        ws.once('close', () => resolve())
        ws.close(1000)
      }),
  )
  const timer = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref())
  await Promise.race([Promise.all(closes), timer])
  for (const ws of sockets) if (ws.readyState !== WebSocket.CLOSED) ws.terminate()
  sockets = []
  closing = false
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))] as number
}

function latency(name: string): Record<string, unknown> {
  const sorted = Float64Array.from(pools.get(name) ?? []).sort()
  return {
    t: 'latency',
    samples: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length > 0 ? sorted[sorted.length - 1] : Number.NaN,
  }
}

function stats(): Record<string, unknown> {
  const cpu = process.cpuUsage(cpuAtPhase)
  return {
    t: 'stats',
    delivered,
    badFrames,
    dropped,
    firstAt,
    lastAt,
    cpuMs: (cpu.user + cpu.system) / 1000,
    wallMs: now() - phaseStartedAt,
  }
}

const progress = setInterval(() => {
  if (delivered !== reported) {
    reported = delivered
    reply({ t: 'p', d: delivered })
  }
}, PROGRESS_MS)

function exit(): void {
  clearInterval(progress)
  for (const ws of sockets) ws.terminate()
  process.exit(0)
}

async function handle(line: string): Promise<void> {
  const command = JSON.parse(line) as {
    cmd: string
    url?: string
    n?: number
    join?: boolean
    pool?: string
  }
  switch (command.cmd) {
    case 'open':
      await open(command.url as string, command.n as number, command.join === true)
      return reply({ t: 'ready', n: sockets.length })
    case 'phase':
      delivered = 0
      reported = 0
      pool = undefined
      if (command.pool !== undefined) {
        pool = pools.get(command.pool) ?? []
        pools.set(command.pool, pool)
      }
      badFrames = 0
      dropped = 0
      firstAt = 0
      lastAt = 0
      cpuAtPhase = process.cpuUsage()
      phaseStartedAt = now()
      return reply({ t: 'phase' })
    case 'stats':
      return reply(stats())
    case 'latency':
      return reply(latency(command.pool as string))
    case 'close':
      pool = undefined
      pools.clear()
      await closeAll()
      return reply({ t: 'closed' })
    case 'exit':
      return exit()
    default:
      return reply({ t: 'error', message: `unknown command ${command.cmd}` })
  }
}

// Commands are handled one after another, in order.
let queue: Promise<void> = Promise.resolve()
const input = createInterface({ input: process.stdin })
input.on('line', (line) => {
  queue = queue
    .then(() => handle(line))
    .catch((error: unknown) =>
      reply({ t: 'error', message: error instanceof Error ? error.message : String(error) }),
    )
})
input.on('close', () => void queue.finally(exit))
