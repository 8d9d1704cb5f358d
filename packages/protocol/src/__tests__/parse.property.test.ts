import fc from 'fast-check'
import { parse, stringify } from 'lossless-json'
import { describe, expect, it } from 'vitest'
import {
  type ClientFrame,
  parseClientFrame,
  parseJsonNumber,
  parseServerFrame,
  type ServerFrame,
  serializeFrame,
} from '../index.ts'
import { jsonValue, updateOp } from './_arbitraries.ts'

const name = fc.string({ maxLength: 12 })
const seq = fc.nat()
const names = fc.record({ subscriptionId: name, streamName: name, groupId: name })
const itemId = fc
  .option(name, { nil: undefined })
  .chain((id) => fc.constantFrom<string | null | undefined>(id, null))
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined })

/** Drops undefined fields, as JSON does. */
const defined = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T

const clientFrame: fc.Arbitrary<ClientFrame> = fc.oneof(
  fc
    .record({ names, id: itemId, since: optional(fc.record({ epoch: name, seq })) })
    .map(({ names, id, since }) => ({
      type: 'join' as const,
      data: defined({ ...names, id, since }),
    })),
  fc
    .record({ names, id: itemId })
    .map(({ names, id }) => ({ type: 'leave' as const, data: defined({ ...names, id }) })),
  fc.constant({ type: 'ping' as const }),
)

const streamEvent = fc.oneof(
  fc.record({ type: fc.constant('sync' as const), data: jsonValue }),
  // (Sync ids are never empty: the engine refuses an empty id.)
  fc
    .array(fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), jsonValue), { maxLength: 4 })
    .map((pairs) => ({
      type: 'sync' as const,
      data: pairs.map(([, v]) => v),
      ids: pairs.map(([k]) => k),
    })),
  fc.record({
    type: fc.constantFrom('create' as const, 'update' as const, 'delete' as const),
    data: jsonValue,
  }),
  fc.record({
    type: fc.constant('event' as const),
    event: fc.record({ type: name, data: jsonValue }),
  }),
  fc.constant({ type: 'unauthorized' as const }),
  fc.record({ type: fc.constant('patch' as const), ops: fc.array(updateOp, { maxLength: 4 }) }),
  fc.constant({ type: 'resumed' as const }),
)

const serverFrame: fc.Arbitrary<ServerFrame> = fc.oneof(
  fc
    .record({
      timestamp: fc.nat(),
      streamName: name,
      groupId: name,
      id: fc.option(name, { nil: null }),
      event: streamEvent,
      seq: optional(seq),
      epoch: optional(name),
      subscriptionId: optional(name),
    })
    .map((frame) => defined({ type: 'stream' as const, ...frame })),
  fc.record({
    type: fc.constant('hello' as const),
    version: fc.integer({ min: 1, max: 3 }),
    epoch: name,
    heartbeatMs: fc.integer({ min: 1, max: 60_000 }),
    limits: fc.record({
      maxFrameBytes: fc.integer({ min: 1, max: 2 ** 30 }),
      maxSubscriptions: fc.integer({ min: 1, max: 10_000 }),
    }),
  }),
  fc.record({ type: fc.constantFrom('ping' as const, 'pong' as const), timestamp: fc.nat() }),
  fc
    .record({ code: name, message: name, subscriptionId: optional(name) })
    .map((frame) => defined({ type: 'error' as const, ...frame })),
)

/** Exact both ways: bigints are written as digits and read back by the engine's number rule. */
const stringifyJson = (value: unknown) => stringify(value) as string
const parseJson = (text: string) => parse(text, null, parseJsonNumber)

describe('frames round-trip', () => {
  it('parseClientFrame(serializeFrame(frame)) gives the frame back', () => {
    fc.assert(
      fc.property(clientFrame, (frame) => {
        expect(parseClientFrame(serializeFrame(frame))).toEqual({ ok: true, frame })
      }),
      { numRuns: 300 },
    )
  })

  it('parseServerFrame(serializeFrame(frame)) gives the frame back', () => {
    fc.assert(
      fc.property(serverFrame, (frame) => {
        // A bigint `by` inside the safe range reads back as a number: compare with the JSON reading.
        const text = serializeFrame(frame, { stringifyJson })
        expect(parseServerFrame(text, { parseJson })).toEqual({ ok: true, frame: parseJson(text) })
      }),
      { numRuns: 300 },
    )
  })
})

describe('junk', () => {
  const junk = fc.oneof(
    fc.string(),
    jsonValue.map((v) => JSON.stringify(v)),
    fc
      .record(
        {
          type: fc.constantFrom(
            'join',
            'leave',
            'ping',
            'stream',
            'hello',
            'error',
            'pong',
            'JOIN',
          ),
          data: jsonValue,
          event: fc.oneof(
            jsonValue,
            fc.record({ type: fc.string(), data: jsonValue, ops: jsonValue }),
          ),
          timestamp: jsonValue,
          id: jsonValue,
        },
        { requiredKeys: ['type'] },
      )
      .map((v) => JSON.stringify(v)),
    fc.string().map((s) => `{"type":"join","data":${s}}`),
  )

  it('never throws, and every refusal has a code and a sentence', () => {
    fc.assert(
      fc.property(junk, fc.boolean(), (text, extensions) => {
        for (const parsed of [
          parseClientFrame(text, { extensions }),
          parseServerFrame(text, { extensions }),
        ]) {
          if (!parsed.ok) {
            expect(parsed.error.code).toMatch(/^[a-z_]+$/)
            expect(parsed.error.message.length).toBeGreaterThan(5)
          }
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('survives non-string input and deeply nested text', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`
    expect(parseServerFrame(deep).ok).toBe(false)
    expect(parseClientFrame(undefined as unknown as string)).toMatchObject({
      ok: false,
      error: { code: 'invalid_json' },
    })
    const deepPatch = `{"type":"stream","timestamp":1,"streamName":"s","groupId":"g","id":null,"event":{"type":"patch","ops":[{"type":"set","path":"a","value":${'['.repeat(5000)}${']'.repeat(5000)}}]}}`
    expect(parseServerFrame(deepPatch)).toMatchObject({ ok: false, error: { field: 'event.ops' } })
  })
})
