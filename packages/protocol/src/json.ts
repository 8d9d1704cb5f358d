/**
 * A JSON value as the engine sees it. Integers beyond ±(2^53 − 1) are `bigint` when the text was
 * parsed losslessly (see `parseJson` options); everything else is plain JSON.
 *
 * @example
 * const value: JsonValue = { count: 1, big: 9007199254740993n, tags: ['a'] }
 */
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject
/** A JSON scalar; `bigint` holds an exact integer beyond the safe range. */
export type JsonPrimitive = string | number | boolean | null | bigint
/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue }

/**
 * Deepest JSON nesting accepted anywhere a value is checked. serde_json (the engine's parser) refuses
 * text nested deeper than 128 levels, so the engine never sees such a value; the bound also keeps the
 * checks safe from cyclic or absurdly deep inputs.
 */
export const MAX_JSON_DEPTH = 128

export const hasOwn = (object: object, key: string): boolean => Object.hasOwn(object, key)

/** A non-null, non-array object: what JSON calls an object. */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The engine's name for a JSON type, as it appears in its error messages. */
export function jsonTypeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  switch (typeof value) {
    case 'boolean':
      return 'boolean'
    case 'number':
    case 'bigint':
      return 'number'
    case 'string':
      return 'string'
    default:
      return 'object'
  }
}

/**
 * Where `value` stops being JSON, as a path (`value.a[2]`) with the reason, or `null` when it is
 * JSON: finite numbers, bigints, strings, booleans, null, arrays and plain objects, nested at most
 * `MAX_JSON_DEPTH` deep (which also stops cycles). With `omitUndefined`, an object property holding
 * `undefined` counts as absent, as `JSON.stringify` treats it (`cloneJson` then leaves it out).
 */
export function findNonJson(
  value: unknown,
  at: string,
  options: { readonly omitUndefined?: boolean } = {},
  depth = 0,
): string | null {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return null
    case 'number':
      return Number.isFinite(value) ? null : `${at} is ${value}, which JSON cannot carry`
    case 'object': {
      if (value === null) return null
      if (depth >= MAX_JSON_DEPTH) return `${at} nests deeper than ${MAX_JSON_DEPTH} levels`
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const problem = findNonJson(value[i], `${at}[${i}]`, options, depth + 1)
          if (problem !== null) return problem
        }
        return null
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        return `${at} is a ${proto?.constructor?.name ?? 'non-plain'} object, not plain JSON`
      }
      for (const key of Object.keys(value)) {
        const child = (value as Record<string, unknown>)[key]
        if (child === undefined && options.omitUndefined) continue
        const problem = findNonJson(child, `${at}.${key}`, options, depth + 1)
        if (problem !== null) return problem
      }
      return null
    }
    default:
      return `${at} is ${typeof value}, which JSON cannot carry`
  }
}

/**
 * A deep copy of a JSON value. Keys are defined as own data properties, so a key named
 * `__proto__` stays data and never reaches a prototype.
 */
export function cloneJson<T extends JsonValue>(value: T): T {
  if (typeof value !== 'object' || value === null) return value
  if (Array.isArray(value)) return value.map(cloneJson) as T
  const copy: JsonObject = {}
  for (const key of Object.keys(value)) {
    const child = value[key]
    if (child !== undefined) setOwn(copy, key, cloneJson(child))
  }
  return copy as T
}

/** `object[key] = value`, except that `__proto__` becomes an own data property. */
export function setOwn(object: JsonObject, key: string, value: JsonValue): void {
  if (key === '__proto__') {
    Object.defineProperty(object, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    })
  } else {
    object[key] = value
  }
}

/** Bytes of a string in UTF-8 (the engine measures path segments in bytes). */
export function utf8ByteLength(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0x80) bytes += 1
    else if (unit < 0x800) bytes += 2
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

const INTEGER_TEXT = /^-?\d+$/
/** The engine's integer range: i64 below zero, u64 above. */
export const I64_MIN = -(2n ** 63n)
export const I64_MAX = 2n ** 63n - 1n
export const U64_MAX = 2n ** 64n - 1n

/**
 * The engine's reading of one JSON number's text: integers in [i64::MIN, u64::MAX] are exact
 * (a `bigint` when beyond ±(2^53 − 1)), everything else is a float. Give it to a lossless JSON
 * parser (for example `parse(text, null, parseJsonNumber)` from `lossless-json`) so that big integers
 * reach `applyUpdateOps` without loss.
 *
 * @example
 * parseJsonNumber('9007199254740993') // 9007199254740993n
 * parseJsonNumber('42')               // 42
 * parseJsonNumber('1.5e3')            // 1500
 */
export function parseJsonNumber(text: string): number | bigint {
  const value = Number(text)
  if (!INTEGER_TEXT.test(text) || Number.isSafeInteger(value)) return value
  const exact = BigInt(text)
  return exact >= I64_MIN && exact <= U64_MAX ? exact : value
}
