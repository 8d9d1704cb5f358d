/**
 * ops/s of `applyUpdateOps` for a typical 5-op update of a 50-key item, on plain JSON and inside an
 * immer draft, and the ratio between them (machine-independent: both run here, in the same process).
 */
import { applyUpdateOps, type JsonObject, type UpdateOp } from '@iii-streams/protocol'
import { produce } from 'immer'
import { Bench } from 'tinybench'

function makeItem(): JsonObject {
  const item: JsonObject = {}
  for (let i = 0; i < 44; i++) item[`field${i}`] = i % 3 === 0 ? `text-${i}` : i
  item.count = 0
  item.status = 'idle'
  item.series = Array.from({ length: 20 }, (_, i) => i)
  item.meta = { owner: 'u1', region: 'eu' }
  item.note = 'to be removed'
  item.flag = false
  // Items arrive as JSON text: parse them, as the client and server do (and as V8 lays them out).
  return JSON.parse(JSON.stringify(item))
}

const OPS: UpdateOp[] = [
  { type: 'increment', path: 'count', by: 1 },
  { type: 'set', path: 'status', value: 'busy' },
  { type: 'append', path: 'series', value: 21 },
  { type: 'merge', path: 'meta', value: { region: 'us', seen: 3 } },
  { type: 'remove', path: 'note' },
]

const item = Object.freeze(makeItem())
const state = { items: { a: item, b: makeItem() } as Record<string, JsonObject> }
let sink: unknown

const bench = new Bench({ time: 1000, warmup: true })
bench
  .add('plain JSON: applyUpdateOps(item, ops)', () => {
    sink = applyUpdateOps(item, OPS).value
  })
  .add('immer draft: produce(state, d => applyUpdateOps(d.items.a, ops))', () => {
    sink = produce(state, (draft) => {
      draft.items.a = applyUpdateOps(draft.items.a as JsonObject, OPS).value as JsonObject
    })
  })
  .add(
    'immer, plain apply: produce(state, d => { d.items.a = applyUpdateOps(state.items.a, ops) })',
    () => {
      sink = produce(state, (draft) => {
        draft.items.a = applyUpdateOps(state.items.a as JsonObject, OPS).value as JsonObject
      })
    },
  )

await bench.run()

const hz = bench.tasks.map((task) => {
  const result = task.result
  const throughput = result && 'throughput' in result ? result.throughput.mean : 0
  return { name: task.name, opsPerSecond: throughput }
})
const [plain, draft, plainInImmer] = hz as [(typeof hz)[0], (typeof hz)[0], (typeof hz)[0]]
console.log('applyUpdateOps: 5 ops (increment, set, append, merge, remove) on a 50-key item')
for (const row of hz) {
  console.log(
    `  ${Math.round(row.opsPerSecond).toLocaleString('en-US').padStart(12)} ops/s  ${row.name}`,
  )
}
console.log(
  `  ratio draft / plain: ${(draft.opsPerSecond / plain.opsPerSecond).toFixed(3)}  ` +
    `(immer with plain apply / plain: ${(plainInImmer.opsPerSecond / plain.opsPerSecond).toFixed(3)})`,
)
if (sink === undefined) throw new Error('benchmark produced nothing')
