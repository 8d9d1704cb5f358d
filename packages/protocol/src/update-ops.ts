import {
  cloneJson,
  findNonJson,
  hasOwn,
  I64_MAX,
  I64_MIN,
  isJsonObject,
  type JsonObject,
  type JsonValue,
  jsonTypeName,
  U64_MAX,
  utf8ByteLength,
} from './json.ts'

/** The path of `merge` and `append`: absent, `null`, `''` or `[]` mean the root. */
export type SegmentPath = string | readonly string[] | null

/**
 * One `stream::update` op, exactly as the engine decodes it. Paths are literal keys: dots are never
 * separators. `by` is an integer (a `bigint` beyond ±(2^53 − 1)).
 *
 * @example
 * const ops: UpdateOp[] = [
 *   { type: 'increment', path: 'count', by: 1 },
 *   { type: 'append', path: ['session', 'events'], value: { kind: 'chunk' } },
 * ]
 */
export type UpdateOp =
  | { readonly type: 'set'; readonly path: string; readonly value?: JsonValue }
  | { readonly type: 'merge'; readonly path?: SegmentPath; readonly value: JsonValue }
  | { readonly type: 'increment'; readonly path: string; readonly by: number | bigint }
  | { readonly type: 'decrement'; readonly path: string; readonly by: number | bigint }
  | { readonly type: 'append'; readonly path?: SegmentPath; readonly value: JsonValue }
  | { readonly type: 'remove'; readonly path: string }

/** The op names, in the engine's order. */
export const UPDATE_OP_TYPES = [
  'set',
  'merge',
  'increment',
  'decrement',
  'append',
  'remove',
] as const
export type UpdateOpType = UpdateOp['type']

/** The engine's bounds on op paths and merge values. */
export const UPDATE_OP_LIMITS = {
  maxPathDepth: 32,
  maxSegmentBytes: 256,
  maxMergeValueDepth: 16,
  maxMergeValueKeys: 1024,
} as const

/** Segment names and merge keys the engine refuses: JavaScript prototype-pollution sinks. */
export const PROTO_POLLUTION_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype']

/** Every per-op error code the engine reports in `errors`. */
export type UpdateOpErrorCode =
  | `${UpdateOpType}.path.${'too_deep' | 'empty_segment' | 'segment_too_long' | 'proto_polluted'}`
  | `${'set' | 'increment' | 'decrement' | 'remove' | 'append'}.target_not_object`
  | `${'increment' | 'decrement'}.not_number`
  | 'append.type_mismatch'
  | `merge.value.${'not_an_object' | 'too_many_keys' | 'proto_polluted' | 'too_deep'}`

/** The `doc_url` the engine puts on every op error. */
export const UPDATE_OP_DOC_URL = 'https://iii.dev/docs/workers/iii-state#error-codes'

/**
 * One failed op of a `stream::update` call, as the engine reports it (snake_case on the wire).
 *
 * @example
 * { op_index: 1, code: 'increment.not_number', message: "Expected number at path 'bad', got string.",
 *   doc_url: 'https://iii.dev/docs/workers/iii-state#error-codes' }
 */
export interface UpdateOpError {
  readonly op_index: number
  readonly code: UpdateOpErrorCode
  readonly message: string
  readonly doc_url: string
}

/**
 * The stored value of an item that does not exist. Not the same as a stored `null`: ops on a
 * missing item start from `{}` with the engine's missing-item rules.
 *
 * @example
 * applyUpdateOps(MISSING, [{ type: 'increment', path: '', by: 5 }]).value // 5
 */
export const MISSING: unique symbol = Symbol.for('iii-streams.missing') as never
export type Missing = typeof MISSING

/** Why a whole ops array was refused, as the engine's decoding refuses it. */
export interface UpdateOpsRejection {
  readonly code: 'deserialization_error'
  /** One sentence: which op, which field, what was expected. */
  readonly message: string
  /** The index of the op at fault, when one op is at fault. */
  readonly opIndex?: number
}

export type ValidateUpdateOpsResult =
  | { readonly ok: true; readonly ops: readonly UpdateOp[] }
  | { readonly ok: false; readonly error: UpdateOpsRejection }

/** Thrown by `applyUpdateOps` when its ops would fail the engine's decoding. */
export class InvalidUpdateOpsError extends Error {
  readonly code = 'deserialization_error' as const
  readonly opIndex: number | undefined
  constructor(rejection: UpdateOpsRejection) {
    super(rejection.message)
    this.name = 'InvalidUpdateOpsError'
    this.opIndex = rejection.opIndex
  }
}

/**
 * Checks an ops array the way the engine decodes `stream::update` input: a wrong tag, a missing or
 * wrongly typed field, or a `by` that is not an i64 integer refuses the **whole** call before any op
 * runs. Unknown extra fields are ignored. Values must be JSON (finite numbers, plain objects).
 *
 * @example
 * const checked = validateUpdateOps(JSON.parse(body).ops)
 * if (!checked.ok) return { code: checked.error.code, message: checked.error.message }
 * applyUpdateOps(current, checked.ops)
 */
export function validateUpdateOps(ops: unknown): ValidateUpdateOpsResult {
  if (!Array.isArray(ops)) {
    return reject(`ops must be an array of update ops, got ${describe(ops)}`)
  }
  for (let index = 0; index < ops.length; index++) {
    const problem = checkOp(ops[index])
    if (problem !== null) return reject(`ops[${index}]: ${problem}`, index)
  }
  return { ok: true, ops: ops as UpdateOp[] }
}

function reject(message: string, opIndex?: number): ValidateUpdateOpsResult {
  const error: UpdateOpsRejection =
    opIndex === undefined
      ? { code: 'deserialization_error', message }
      : { code: 'deserialization_error', message, opIndex }
  return { ok: false, error }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing'
  return jsonTypeName(value)
}

function checkOp(op: unknown): string | null {
  if (!isJsonObject(op)) return `an op must be an object, got ${describe(op)}`
  const type = (op as Record<string, unknown>).type
  if (type === undefined) return 'type is required'
  if (typeof type !== 'string') return `type must be a string, got ${describe(type)}`
  const fields = op as Record<string, unknown>
  switch (type) {
    case 'set':
      return (
        requireStringPath(type, fields.path) ??
        (fields.value === undefined ? null : checkValue(fields.value))
      )
    case 'merge':
    case 'append':
      return (
        checkSegmentPath(type, fields.path) ??
        (fields.value === undefined ? `${type}.value is required` : checkValue(fields.value))
      )
    case 'increment':
    case 'decrement':
      return requireStringPath(type, fields.path) ?? checkBy(fields.by)
    case 'remove':
      return requireStringPath(type, fields.path)
    default:
      return `unknown op type '${type}' (expected one of ${UPDATE_OP_TYPES.join(', ')}; types are lowercase)`
  }
}

function requireStringPath(type: string, path: unknown): string | null {
  if (path === undefined) return `${type}.path is required`
  if (typeof path !== 'string') return `${type}.path must be a string, got ${describe(path)}`
  return null
}

function checkSegmentPath(type: string, path: unknown): string | null {
  if (path === undefined || path === null || typeof path === 'string') return null
  if (!Array.isArray(path)) {
    return `${type}.path must be a string or an array of strings, got ${describe(path)}`
  }
  for (let i = 0; i < path.length; i++) {
    if (typeof path[i] !== 'string') {
      return `every ${type}.path segment must be a string, got ${describe(path[i])} at ${i}`
    }
  }
  return null
}

function checkBy(by: unknown): string | null {
  if (by === undefined) return 'by is required'
  if (typeof by === 'bigint') {
    return by < I64_MIN || by > I64_MAX ? `by ${by} is outside the i64 range` : null
  }
  if (typeof by !== 'number') return `by must be a JSON integer, got ${describe(by)}`
  if (!Number.isInteger(by) || Object.is(by, -0)) {
    return `by must be an integer (i64), got ${Object.is(by, -0) ? '-0' : by}`
  }
  if (!Number.isSafeInteger(by)) {
    return `by ${by} is beyond ±(2^53 − 1) as a JS number, so its exact value is unknown; pass a bigint`
  }
  return null
}

function checkValue(value: unknown): string | null {
  return findNonJson(value, 'value')
}

/**
 * What `applyUpdateOps` returns: the new value (the engine's `new_value`) and one error per failed
 * op, in op order.
 */
export interface ApplyUpdateOpsResult {
  readonly value: JsonValue
  readonly errors: readonly UpdateOpError[]
}

/** immer marks its drafts with this registered symbol (`isDraft` reads it the same way). */
const IMMER_DRAFT_STATE = Symbol.for('immer-state')

function isImmerDraft(value: object): boolean {
  return Boolean((value as Record<symbol, unknown>)[IMMER_DRAFT_STATE])
}

/**
 * Applies `stream::update` ops with exactly the engine's semantics: ops run in order, best-effort;
 * a failed op changes nothing, adds one error and the next op still runs. `current` is the stored
 * value, or `MISSING` when no item is stored.
 *
 * Outside an immer draft the input is never mutated: changed containers are copied along the path
 * and everything else is shared (`===`) with `current`. Inside a draft (`current` is a draft) the
 * draft is changed in place, so immer records the changes. Keys such as `__proto__` in values stay
 * plain data; `Object.prototype` is never touched.
 *
 * Integers are exact: within ±(2^53 − 1) they are numbers, beyond they are `bigint`, and the engine's
 * i64/u64 range is enforced. A non-integer number (or an unsafe one) is a float, as in the engine.
 *
 * @throws InvalidUpdateOpsError when `ops` would fail the engine's decoding (see `validateUpdateOps`).
 * @example
 * const { value, errors } = applyUpdateOps({ count: 1 }, [
 *   { type: 'increment', path: 'count', by: 2 },
 *   { type: 'append', path: 'log', value: 'hi' },
 * ])
 * // value: { count: 3, log: 'hi' }, errors: []
 *
 * // inside immer:
 * produce(state, (draft) => { draft.items.a = applyUpdateOps(draft.items.a, ops).value })
 */
export function applyUpdateOps(
  current: JsonValue | Missing,
  ops: readonly UpdateOp[],
): ApplyUpdateOpsResult {
  const checked = validateUpdateOps(ops)
  if (!checked.ok) throw new InvalidUpdateOpsError(checked.error)
  return new OpRun(current).run(ops)
}

/** One call of `applyUpdateOps`: the evolving root, the missing-item flag and the errors so far. */
class OpRun {
  #root: JsonValue
  #missing: boolean
  readonly #errors: UpdateOpError[] = []
  /** Containers this call made and may therefore change in place. */
  readonly #owned = new WeakSet<object>()

  constructor(current: JsonValue | Missing) {
    this.#missing = current === MISSING
    this.#root = current === MISSING ? this.#own({}) : current
  }

  run(ops: readonly UpdateOp[]): ApplyUpdateOpsResult {
    ops.forEach((op, index) => {
      if (this.#apply(op, index)) this.#missing = false
    })
    return { value: this.#root, errors: this.#errors }
  }

  /** Applies one op; true when it succeeded (which clears the missing-item flag). */
  #apply(op: UpdateOp, index: number): boolean {
    switch (op.type) {
      case 'set':
        return this.#set(op.path, op.value === undefined ? null : op.value, index)
      case 'merge':
        return this.#merge(segmentsOf(op.path), op.value, index)
      case 'increment':
        return this.#addTo('increment', op.path, op.by, index)
      case 'decrement':
        return this.#addTo('decrement', op.path, negate(op.by), index)
      case 'append':
        return this.#append(segmentsOf(op.path), op.value, index)
      case 'remove':
        return this.#remove(op.path, index)
    }
  }

  #set(path: string, value: JsonValue, index: number): boolean {
    if (!this.#validPath('set', keySegments(path), index)) return false
    if (path === '') {
      this.#root = cloneJson(value)
      return true
    }
    const root = this.#writableRoot()
    if (root === null) return this.#targetNotObject('set', path, index)
    root[path] = cloneJson(value)
    return true
  }

  #merge(segments: readonly string[], value: JsonValue, index: number): boolean {
    if (!this.#validPath('merge', segments, index) || !this.#validMergeValue(value, index)) {
      return false
    }
    const source = value as JsonObject
    let target: JsonObject
    if (segments.length === 0) {
      // A root merge onto a non-object is a silent no-op in the engine: no change, no error,
      // and the missing-item flag stays.
      const root = this.#writableRoot()
      if (root === null) return false
      target = root
    } else {
      target = this.#walkOrCreate(segments)
    }
    for (const key of Object.keys(source)) target[key] = cloneJson(source[key] as JsonValue)
    return true
  }

  #addTo(
    kind: 'increment' | 'decrement',
    path: string,
    delta: number | bigint,
    index: number,
  ): boolean {
    if (!this.#validPath(kind, keySegments(path), index)) return false
    if (path === '') {
      const sum = this.#missing ? exactInteger(delta) : addNumber(this.#root, delta)
      if (sum === undefined) return this.#notNumber(kind, path, this.#root, index)
      this.#root = sum
      return true
    }
    if (!isJsonObject(this.#root)) return this.#targetNotObject(kind, path, index)
    const existing = hasOwn(this.#root, path) ? this.#root[path] : undefined
    const sum = existing === undefined ? exactInteger(delta) : addNumber(existing, delta)
    if (sum === undefined) return this.#notNumber(kind, path, existing, index)
    this.#writableRoot()![path] = sum
    return true
  }

  #append(segments: readonly string[], value: JsonValue, index: number): boolean {
    if (!this.#validPath('append', segments, index)) return false
    if (segments.length === 0) {
      const target = this.#missing ? null : this.#root
      const appended = this.#appendTo(target, value, 'root', index)
      if (appended === undefined) return false
      this.#root = appended
      return true
    }
    if (!isJsonObject(this.#root)) {
      return this.#fail(
        'append.target_not_object',
        `Cannot append at path '${segmentsLabel(segments)}': target is ${jsonTypeName(this.#root)}, expected object.`,
        index,
      )
    }
    const leaf = segments[segments.length - 1]!
    const parentPath = segments.slice(0, -1)
    // Read first, write after: a failed append must leave every container as it was (`===`).
    const existingParent = parentPath.length === 0 ? this.#root : this.#peek(parentPath)
    let appended: JsonValue | undefined
    if (existingParent !== undefined && hasOwn(existingParent, leaf)) {
      appended = this.#appendTo(existingParent[leaf] as JsonValue, value, leaf, index)
      if (appended === undefined) return false
    } else {
      // A missing leaf: one segment keeps the string-concatenation tier, a nested path always
      // starts an array.
      appended = parentPath.length === 0 ? initialAppendValue(value) : [cloneJson(value)]
    }
    const parent = parentPath.length === 0 ? this.#writableRoot()! : this.#walkOrCreate(parentPath)
    parent[leaf] = appended
    return true
  }

  /** The target after appending `value`, or undefined (with an error recorded) on a mismatch. */
  #appendTo(
    target: JsonValue,
    value: JsonValue,
    label: string,
    index: number,
  ): JsonValue | undefined {
    if (Array.isArray(target)) {
      const array = this.#writable(target)
      array.push(cloneJson(value))
      return array
    }
    if (typeof target === 'string') {
      if (typeof value === 'string') return target + value
      this.#fail(
        'append.type_mismatch',
        `Expected string append value at path '${label}', got ${jsonTypeName(value)}.`,
        index,
      )
      return undefined
    }
    if (target === null) return initialAppendValue(value)
    this.#fail(
      'append.type_mismatch',
      `Cannot append at path '${label}': target is ${jsonTypeName(target)}, expected array, string, null, or missing field.`,
      index,
    )
    return undefined
  }

  #remove(path: string, index: number): boolean {
    if (!this.#validPath('remove', keySegments(path), index)) return false
    if (path === '') {
      this.#root = null
      return true
    }
    if (!isJsonObject(this.#root)) return this.#targetNotObject('remove', path, index)
    if (!hasOwn(this.#root, path)) return true
    if (isImmerDraft(this.#root)) {
      delete this.#root[path]
    } else {
      // A copy without the key rather than `delete`, which would drop V8 into slow dictionary
      // properties for this object and every later copy of it.
      const { [path]: _removed, ...rest } = this.#root
      this.#root = this.#own(rest)
    }
    return true
  }

  /**
   * The object at `segments`, made writable all the way down; missing or non-object intermediates
   * (arrays included) and a non-object root are replaced by `{}`, as the engine does.
   */
  #walkOrCreate(segments: readonly string[]): JsonObject {
    let node: JsonObject | null = this.#writableRoot()
    if (node === null) {
      node = this.#own({})
      this.#root = node
    }
    for (const segment of segments) {
      const child: JsonValue | undefined = hasOwn(node, segment) ? node[segment] : undefined
      const next: JsonObject = isJsonObject(child) ? this.#writable(child) : this.#own({})
      if (next !== child) node[segment] = next
      node = next
    }
    return node
  }

  /** The object at `segments` when every step is an object, without changing anything. */
  #peek(segments: readonly string[]): JsonObject | undefined {
    let node: JsonValue = this.#root
    for (const segment of segments) {
      if (!isJsonObject(node) || !hasOwn(node, segment)) return undefined
      node = node[segment] as JsonValue
    }
    return isJsonObject(node) ? node : undefined
  }

  /** The root as a writable object, or null when the root is not an object. */
  #writableRoot(): JsonObject | null {
    if (!isJsonObject(this.#root)) return null
    const root = this.#writable(this.#root)
    this.#root = root
    return root
  }

  /**
   * `container` itself when this call may change it (an immer draft, or a copy made by this call),
   * else a shallow copy. Callers put the copy where the original was, so copies run root to leaf.
   */
  #writable<T extends JsonObject | JsonValue[]>(container: T): T {
    if (this.#owned.has(container) || isImmerDraft(container)) return container
    // Spread defines own data properties, so a stored `__proto__` key is copied as data.
    return this.#own((Array.isArray(container) ? [...container] : { ...container }) as T)
  }

  #own<T extends object>(container: T): T {
    this.#owned.add(container)
    return container
  }

  #validPath(kind: UpdateOpType, segments: readonly string[], index: number): boolean {
    const { maxPathDepth, maxSegmentBytes } = UPDATE_OP_LIMITS
    if (segments.length > maxPathDepth) {
      return this.#fail(
        `${kind}.path.too_deep`,
        `Path depth ${segments.length} exceeds maximum of ${maxPathDepth}`,
        index,
      )
    }
    for (const segment of segments) {
      if (segment === '') {
        return this.#fail(`${kind}.path.empty_segment`, 'Path contains an empty segment', index)
      }
      const bytes = utf8ByteLength(segment)
      if (bytes > maxSegmentBytes) {
        return this.#fail(
          `${kind}.path.segment_too_long`,
          `Path segment of ${bytes} bytes exceeds maximum of ${maxSegmentBytes}`,
          index,
        )
      }
      if (PROTO_POLLUTION_KEYS.includes(segment)) {
        return this.#fail(
          `${kind}.path.proto_polluted`,
          `Path segment '${segment}' is not allowed (prototype pollution).`,
          index,
        )
      }
    }
    return true
  }

  #validMergeValue(value: JsonValue, index: number): boolean {
    const { maxMergeValueKeys, maxMergeValueDepth } = UPDATE_OP_LIMITS
    if (!isJsonObject(value)) {
      return this.#fail('merge.value.not_an_object', 'Merge value must be a JSON object', index)
    }
    const keys = Object.keys(value)
    if (keys.length > maxMergeValueKeys) {
      return this.#fail(
        'merge.value.too_many_keys',
        `Merge value has ${keys.length} top-level keys, exceeds maximum of ${maxMergeValueKeys}`,
        index,
      )
    }
    const polluting = keys.find((key) => PROTO_POLLUTION_KEYS.includes(key))
    if (polluting !== undefined) {
      return this.#fail(
        'merge.value.proto_polluted',
        `Merge value top-level key ${JSON.stringify(polluting)} is a prototype-pollution sink`,
        index,
      )
    }
    const depth = jsonDepth(value)
    if (depth > maxMergeValueDepth) {
      return this.#fail(
        'merge.value.too_deep',
        `Merge value JSON nesting depth ${depth} exceeds maximum of ${maxMergeValueDepth}`,
        index,
      )
    }
    return true
  }

  #targetNotObject(
    kind: 'set' | 'increment' | 'decrement' | 'remove',
    path: string,
    index: number,
  ): false {
    return this.#fail(
      `${kind}.target_not_object`,
      `Cannot ${kind} at path '${pathLabel(path)}': target is ${jsonTypeName(this.#root)}, expected object.`,
      index,
    )
  }

  #notNumber(kind: 'increment' | 'decrement', path: string, found: unknown, index: number): false {
    return this.#fail(
      `${kind}.not_number`,
      `Expected number at path '${pathLabel(path)}', got ${jsonTypeName(found)}.`,
      index,
    )
  }

  #fail(code: UpdateOpErrorCode, message: string, index: number): false {
    this.#errors.push({ op_index: index, code, message, doc_url: UPDATE_OP_DOC_URL })
    return false
  }
}

function segmentsOf(path: SegmentPath | undefined): readonly string[] {
  if (path === undefined || path === null || path === '') return []
  return typeof path === 'string' ? [path] : path
}

function keySegments(path: string): readonly string[] {
  return path === '' ? [] : [path]
}

function pathLabel(path: string): string {
  return path === '' ? 'root' : path
}

function segmentsLabel(segments: readonly string[]): string {
  return segments.length === 0 ? 'root' : `[${segments.join(', ')}]`
}

function initialAppendValue(value: JsonValue): JsonValue {
  return typeof value === 'string' ? value : [cloneJson(value)]
}

/** `{}` is 1, `{"a":{}}` is 2, scalars 0; stops counting once past the merge limit. */
function jsonDepth(value: JsonValue): number {
  if (typeof value !== 'object' || value === null) return 0
  let deepest = 0
  const children = Array.isArray(value) ? value : Object.values(value)
  for (const child of children) {
    deepest = Math.max(deepest, jsonDepth(child))
    if (deepest > UPDATE_OP_LIMITS.maxMergeValueDepth) break
  }
  return 1 + deepest
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** `-by`, exact; `0 - by` so that decrementing by 0 gives 0, never -0. */
function negate(by: number | bigint): number | bigint {
  return typeof by === 'bigint' ? -by : 0 - by
}

/** An integer as the engine holds it: a number when safe, a bigint beyond ±(2^53 − 1). */
function exactInteger(value: number | bigint): number | bigint {
  if (typeof value === 'number') return value
  return value >= -MAX_SAFE && value <= MAX_SAFE ? Number(value) : value
}

/**
 * `target + delta` with the engine's numeric rules, or undefined where the engine reports
 * `not_number`: a non-number target, an integer result outside [i64::MIN, u64::MAX], or a float
 * result that is not finite. `delta` is a safe integer number or a bigint.
 */
function addNumber(target: unknown, delta: number | bigint): number | bigint | undefined {
  if (typeof target === 'number') {
    if (!Number.isSafeInteger(target)) {
      // A float (or a lossy integer, which JS already holds as a float): f64 arithmetic.
      const sum = target + Number(delta)
      return Number.isFinite(sum) ? sum : undefined
    }
    if (typeof delta === 'number') {
      const sum = target + delta
      // Both operands safe and the rounded sum safe: the sum is exact (and `+ 0` drops a -0).
      if (Number.isSafeInteger(sum)) return sum + 0
    }
  } else if (typeof target !== 'bigint') {
    return undefined
  }
  const sum = BigInt(target) + BigInt(delta)
  if (sum < I64_MIN || sum > U64_MAX) return undefined
  return exactInteger(sum)
}
