/**
 * The Redis adapter against the memory adapter, both measured in this run on loopback (a real
 * `redis-server` started here). Prints figures and ratios; it asserts nothing about timing.
 *
 * - Writes: `stream::set` through `server.trigger`, WRITES of them with CONCURRENCY in flight, on
 *   items spread over GROUPS groups (so transactions on one group rarely collide), then the same
 *   with every write an increment of ONE item (the worst case: every transaction collides and
 *   retries). Figure: writes acknowledged per second.
 * - Delivery latency: a `stream::set` on one instance until an extended socket on the other
 *   instance (Redis: a second server on the same Redis; memory: the same server) receives the
 *   change, PACED writes one after another; p50 and p99 in ms.
 * - Rounds alternate memory and Redis; figures are medians over ROUNDS rounds.
 *
 * Run: `pnpm --filter @iii-streams/bench run bench:redis`.
 */
import { createStreamServer, type StreamServer, silentLogger } from '@iii-streams/server'
import { startRedis } from '@iii-streams/test-utils'
import WebSocket from 'ws'

const WRITES = 2000
const CONCURRENCY = 16
const GROUPS = 50
const PACED = 300
const ROUNDS = 3

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[sorted.length >> 1] as number
}
const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
}

async function writesPerSecond(server: StreamServer, contended: boolean): Promise<number> {
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < WRITES) {
        const n = next++
        if (contended) {
          await server.trigger({
            function_id: 'stream::update',
            payload: {
              stream_name: 'bench',
              group_id: 'hot',
              item_id: 'counter',
              ops: [{ type: 'increment', path: 'n', by: 1 }],
            },
          })
        } else {
          await server.trigger({
            function_id: 'stream::set',
            payload: {
              stream_name: 'bench',
              group_id: `g${n % GROUPS}`,
              item_id: `i${n % 97}`,
              data: { n, text: 'a value of a few dozen bytes' },
            },
          })
        }
      }
    }),
  )
  return WRITES / ((performance.now() - started) / 1000)
}

/** ms from each write on `writer` until a socket on `reader` has it. */
async function latencies(writer: StreamServer, reader: StreamServer): Promise<number[]> {
  const socket = new WebSocket(`${reader.url}?iii_ext=1`)
  const waiting = new Map<number, () => void>()
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { event?: { type: string; data?: { n?: number } } }
    const n = frame.event?.data?.n
    if (frame.event?.type !== 'sync' && typeof n === 'number') waiting.get(n)?.()
  })
  await new Promise((resolve) => socket.once('open', resolve))
  socket.send(
    JSON.stringify({
      type: 'join',
      data: { subscriptionId: 's', streamName: 'bench', groupId: 'latency' },
    }),
  )
  await new Promise((resolve) => setTimeout(resolve, 100))
  const result: number[] = []
  for (let n = 0; n < PACED; n++) {
    const received = new Promise<void>((resolve) => waiting.set(n, resolve))
    const started = performance.now()
    await writer.trigger({
      function_id: 'stream::set',
      payload: { stream_name: 'bench', group_id: 'latency', item_id: 'x', data: { n } },
    })
    await received
    result.push(performance.now() - started)
    waiting.delete(n)
  }
  socket.close()
  return result
}

const redis = await startRedis()
const open = (adapter: Parameters<typeof createStreamServer>[0]) =>
  createStreamServer({ port: 0, logger: silentLogger, ...adapter })
const memory = await open({ adapter: { type: 'memory' } })
const onRedis = [
  await open({ adapter: { type: 'redis', url: redis.url } }),
  await open({ adapter: { type: 'redis', url: redis.url } }),
]
const figures = {
  memory: { spread: [] as number[], hot: [] as number[], p50: [] as number[], p99: [] as number[] },
  redis: { spread: [] as number[], hot: [] as number[], p50: [] as number[], p99: [] as number[] },
}
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of round % 2 === 0
      ? (['memory', 'redis'] as const)
      : (['redis', 'memory'] as const)) {
      const writer = side === 'memory' ? memory : (onRedis[0] as StreamServer)
      const reader = side === 'memory' ? memory : (onRedis[1] as StreamServer)
      figures[side].spread.push(await writesPerSecond(writer, false))
      figures[side].hot.push(await writesPerSecond(writer, true))
      const times = await latencies(writer, reader)
      figures[side].p50.push(percentile(times, 0.5))
      figures[side].p99.push(percentile(times, 0.99))
    }
  }
} finally {
  for (const server of [memory, ...onRedis]) await server.close()
  await redis.stop()
}

const f = (value: number, digits = 0) => value.toFixed(digits).padStart(9)
const m = (side: 'memory' | 'redis', key: keyof typeof figures.memory) => median(figures[side][key])
console.log(
  `Redis adapter vs memory adapter (loopback, Node ${process.version}, medians of ${ROUNDS} rounds)`,
)
console.log(`  writes: ${WRITES} with ${CONCURRENCY} in flight; latency: ${PACED} paced writes`)
console.log('')
console.log(
  `  ${''.padEnd(44)} ${'memory'.padStart(9)} ${'redis'.padStart(9)} ${'ratio'.padStart(7)}`,
)
const row = (
  label: string,
  key: keyof typeof figures.memory,
  digits: number,
  higherIsBetter: boolean,
) => {
  const a = m('memory', key)
  const b = m('redis', key)
  const ratio = higherIsBetter ? b / a : b / a
  console.log(
    `  ${label.padEnd(44)} ${f(a, digits)} ${f(b, digits)} ${ratio.toFixed(2).padStart(7)}`,
  )
}
row(`stream::set/s, ${GROUPS} groups`, 'spread', 0, true)
row('stream::update/s, all on one item (contended)', 'hot', 0, true)
row('set → socket on another instance, p50 ms', 'p50', 2, false)
row('set → socket on another instance, p99 ms', 'p99', 2, false)
