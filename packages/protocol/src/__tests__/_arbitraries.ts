import fc from 'fast-check'
import type { JsonValue, UpdateOp } from '../index.ts'

/** Keys that exercise literal dots, the empty root path and the pollution sinks. */
const key = fc.constantFrom(
  'a',
  'b',
  'a.b',
  'list',
  'n',
  's',
  '',
  '__proto__',
  'constructor',
  'toString',
)

export const jsonValue = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>

const segments = fc.oneof(
  fc.constant(null),
  key,
  fc.array(
    key.filter((k) => k !== ''),
    { maxLength: 3 },
  ),
)

const by = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
)

/** Any well-formed op, most of them plausible, some bound to fail. */
export const updateOp: fc.Arbitrary<UpdateOp> = fc.oneof(
  fc.record({ type: fc.constant('set' as const), path: key, value: jsonValue }),
  fc.record({
    type: fc.constant('merge' as const),
    path: segments,
    value: fc.oneof(fc.dictionary(key, jsonValue, { maxKeys: 3 }), jsonValue),
  }),
  fc.record({ type: fc.constant('increment' as const), path: key, by }),
  fc.record({ type: fc.constant('decrement' as const), path: key, by }),
  fc.record({ type: fc.constant('append' as const), path: segments, value: jsonValue }),
  fc.record({ type: fc.constant('remove' as const), path: key }),
)
