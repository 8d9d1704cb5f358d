import { parseJsonNumber } from '@iii-streams/protocol'
import { parse, stringify } from 'lossless-json'

// An integer with 16 or more digits may lie beyond 2^53; only such text needs the lossless parser.
const LONG_NUMBER = /\d{16}/

/**
 * Parses JSON text as the engine reads it: integers beyond ±(2^53 − 1) arrive as exact `bigint`s.
 * Plain `JSON.parse` (fast) when the text holds no long number.
 */
export function parseWireJson(text: string): unknown {
  return LONG_NUMBER.test(text) ? parse(text, null, parseJsonNumber) : JSON.parse(text)
}

/** JSON text of a value, exact for `bigint`s; `JSON.stringify` (fast) when there are none. */
export function toWireJson(value: unknown): string {
  try {
    return JSON.stringify(value)
  } catch (error) {
    if (error instanceof TypeError && /BigInt/i.test(error.message))
      return stringify(value) as string
    throw error
  }
}
