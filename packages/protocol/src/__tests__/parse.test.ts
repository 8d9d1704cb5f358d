import { parse } from 'lossless-json'
import { describe, expect, it } from 'vitest'
import { parseClientFrame, parseJsonNumber, parseServerFrame, serializeFrame } from '../index.ts'

const join = (data: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ type: 'join', data, ...extra })

const names = { subscriptionId: 'sub-1', streamName: 'chat', groupId: 'room-1' }

describe('parseClientFrame', () => {
  it('reads the engine examples of §2.1', () => {
    expect(parseClientFrame(join(names))).toEqual({
      ok: true,
      frame: { type: 'join', data: names },
    })
    expect(parseClientFrame(join({ ...names, id: 'msg-1' }))).toEqual({
      ok: true,
      frame: { type: 'join', data: { ...names, id: 'msg-1' } },
    })
    expect(parseClientFrame(join({ ...names, id: null }))).toMatchObject({
      ok: true,
      frame: { data: { id: null } },
    })
    expect(parseClientFrame(JSON.stringify({ type: 'leave', data: names }))).toEqual({
      ok: true,
      frame: { type: 'leave', data: names },
    })
  })

  it('tolerates and drops unknown fields, as the engine does', () => {
    const parsed = parseClientFrame(join({ ...names, color: 'red' }, { version: 2 }))
    expect(parsed).toEqual({ ok: true, frame: { type: 'join', data: names } })
  })

  it.each([
    ['a wrong-case type', JSON.stringify({ type: 'Join', data: names }), 'unknown_type', 'type'],
    ['a missing data', JSON.stringify({ type: 'join' }), 'missing_field', 'data'],
    [
      'a snake_case field',
      join({ subscription_id: 's', streamName: 'c', groupId: 'g' }),
      'missing_field',
      'data.subscriptionId',
    ],
    [
      'a missing groupId',
      join({ subscriptionId: 's', streamName: 'c' }),
      'missing_field',
      'data.groupId',
    ],
    ['a numeric id', join({ ...names, id: 7 }), 'invalid_field', 'data.id'],
    ['a non-object data', JSON.stringify({ type: 'join', data: [] }), 'invalid_field', 'data'],
    ['a numeric type', JSON.stringify({ type: 1 }), 'invalid_field', 'type'],
    ['an array', '[1,2]', 'not_an_object', undefined],
    ['broken JSON', '{"type":', 'invalid_json', undefined],
    ['whitespace only', ' \n\t', 'empty_frame', undefined],
  ])('refuses %s', (_, text, code, field) => {
    const parsed = parseClientFrame(text)
    expect(parsed.ok).toBe(false)
    if (!parsed.ok) {
      expect(parsed.error.code).toBe(code)
      expect(parsed.error.field).toBe(field)
      expect(parsed.error.message).toMatch(/\.$/)
    }
  })

  it('reads the extensions: ping and a join since', () => {
    expect(parseClientFrame('{"type":"ping"}')).toEqual({ ok: true, frame: { type: 'ping' } })
    const since = { epoch: 'e1', seq: 4 }
    expect(parseClientFrame(join({ ...names, since }))).toEqual({
      ok: true,
      frame: { type: 'join', data: { ...names, since } },
    })
    expect(parseClientFrame(join({ ...names, since: { epoch: 'e1', seq: -1 } }))).toMatchObject({
      ok: false,
      error: { code: 'invalid_field', field: 'data.since.seq' },
    })
  })

  it('accepts exactly what a plain engine accepts with extensions off', () => {
    expect(parseClientFrame('{"type":"ping"}', { extensions: false })).toMatchObject({
      ok: false,
      error: { code: 'unknown_type' },
    })
    // The engine ignores `since` entirely, however malformed.
    expect(parseClientFrame(join({ ...names, since: 'junk' }), { extensions: false })).toEqual({
      ok: true,
      frame: { type: 'join', data: names },
    })
  })
})

const wrapper = (event: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    type: 'stream',
    timestamp: 1766000000123,
    streamName: 'chat',
    groupId: 'room-1',
    id: 'msg-1',
    event,
    ...extra,
  })

describe('parseServerFrame', () => {
  it('reads every event of §2.3', () => {
    const events = [
      { type: 'sync', data: [{ author: 'alice', text: 'hi' }] },
      { type: 'sync', data: null },
      { type: 'create', data: { text: 'new' } },
      { type: 'update', data: { text: 'edited' } },
      { type: 'delete', data: { text: 'edited' } },
      { type: 'event', event: { type: 'typing', data: { user: 'bob' } } },
      { type: 'unauthorized' },
    ]
    for (const event of events) {
      const parsed = parseServerFrame(wrapper(event))
      expect(parsed).toEqual({
        ok: true,
        frame: {
          type: 'stream',
          timestamp: 1766000000123,
          streamName: 'chat',
          groupId: 'room-1',
          id: 'msg-1',
          event,
        },
      })
    }
  })

  it('reads an absent id as null, as the engine does', () => {
    const text = JSON.stringify({
      type: 'stream',
      timestamp: 1,
      streamName: 's',
      groupId: 'g',
      event: { type: 'sync', data: [] },
    })
    expect(parseServerFrame(text)).toMatchObject({ ok: true, frame: { id: null } })
  })

  it.each([
    ['a create without data', wrapper({ type: 'create' }), 'missing_field', 'event.data'],
    [
      'a fractional timestamp',
      wrapper({ type: 'sync', data: [] }, { timestamp: 1.5 }),
      'invalid_field',
      'timestamp',
    ],
    ['a numeric item id', wrapper({ type: 'sync', data: [] }, { id: 3 }), 'invalid_field', 'id'],
    ['an unknown event', wrapper({ type: 'upsert', data: 1 }), 'unknown_type', 'event.type'],
    ['a send without its event', wrapper({ type: 'event' }), 'missing_field', 'event.event'],
    [
      'a send without data',
      wrapper({ type: 'event', event: { type: 't' } }),
      'missing_field',
      'event.event.data',
    ],
    [
      'ids not parallel to data',
      wrapper({ type: 'sync', data: [1], ids: ['a', 'b'] }),
      'invalid_field',
      'event.ids',
    ],
    [
      'ids that are not strings',
      wrapper({ type: 'sync', data: [1], ids: [1] }),
      'invalid_field',
      'event.ids[0]',
    ],
    [
      'an empty id (names are never empty)',
      wrapper({ type: 'sync', data: [1, 2], ids: ['a', ''] }),
      'invalid_field',
      'event.ids[1]',
    ],
    ['a negative seq', wrapper({ type: 'create', data: 1 }, { seq: -1 }), 'invalid_field', 'seq'],
    [
      'a patch with bad ops',
      wrapper({ type: 'patch', ops: [{ type: 'set' }] }),
      'invalid_field',
      'event.ops',
    ],
    [
      'a hello without limits',
      '{"type":"hello","version":1,"epoch":"e","heartbeatMs":15000}',
      'missing_field',
      'limits',
    ],
    ['an error without message', '{"type":"error","code":"bad_frame"}', 'missing_field', 'message'],
  ])('refuses %s', (_, text, code, field) => {
    const parsed = parseServerFrame(text)
    expect(parsed).toMatchObject({ ok: false, error: { code, field } })
  })

  it('reads the extension frames and fields', () => {
    const hello = {
      type: 'hello',
      version: 1,
      epoch: 'e-1',
      heartbeatMs: 15000,
      limits: { maxFrameBytes: 1048576, maxSubscriptions: 1000 },
    }
    expect(parseServerFrame(JSON.stringify(hello))).toEqual({ ok: true, frame: hello })
    expect(parseServerFrame('{"type":"ping","timestamp":5}')).toEqual({
      ok: true,
      frame: { type: 'ping', timestamp: 5 },
    })
    expect(
      parseServerFrame('{"type":"error","code":"bad_frame","message":"m","subscriptionId":"s"}'),
    ).toEqual({
      ok: true,
      frame: { type: 'error', code: 'bad_frame', message: 'm', subscriptionId: 's' },
    })
    const sync = parseServerFrame(
      wrapper(
        { type: 'sync', data: [{ t: 1 }], ids: ['m1'] },
        { seq: 3, epoch: 'e-1', subscriptionId: 's' },
      ),
    )
    expect(sync).toMatchObject({
      ok: true,
      frame: { seq: 3, epoch: 'e-1', subscriptionId: 's', event: { ids: ['m1'] } },
    })
    const patch = parseServerFrame(
      wrapper({ type: 'patch', ops: [{ type: 'increment', path: 'n', by: 1 }] }, { seq: 4 }),
    )
    expect(patch).toMatchObject({ ok: true, frame: { event: { type: 'patch', ops: [{ by: 1 }] } } })
    expect(parseServerFrame(wrapper({ type: 'resumed' }, { seq: 9 }))).toMatchObject({
      ok: true,
      frame: { seq: 9, event: { type: 'resumed' } },
    })
  })

  it('reads as a plain engine client with extensions off', () => {
    expect(parseServerFrame('{"type":"pong","timestamp":1}', { extensions: false })).toMatchObject({
      ok: false,
      error: { code: 'unknown_type' },
    })
    const plain = parseServerFrame(
      wrapper({ type: 'sync', data: [1], ids: 'junk' }, { seq: 'x' }),
      {
        extensions: false,
      },
    )
    expect(plain).toEqual({
      ok: true,
      frame: {
        type: 'stream',
        timestamp: 1766000000123,
        streamName: 'chat',
        groupId: 'room-1',
        id: 'msg-1',
        event: { type: 'sync', data: [1] },
      },
    })
  })

  it('returns a change as parsed (no copy), and a plain reader still drops the extension fields', () => {
    const parsed = JSON.parse(wrapper({ type: 'update', data: { n: 1 } }, { seq: 3, extra: true }))
    const read = parseServerFrame('{}', { parseJson: () => parsed })
    expect(read.ok && read.frame).toBe(parsed)
    expect(read).toMatchObject({ ok: true, frame: { seq: 3, extra: true } })
    // An absent `id` reads as null, on the same object.
    const { id: _id, ...withoutId } = JSON.parse(wrapper({ type: 'delete', data: null }))
    const noId = parseServerFrame(JSON.stringify(withoutId))
    expect(noId).toMatchObject({ ok: true, frame: { id: null, event: { type: 'delete' } } })
    const plain = parseServerFrame(wrapper({ type: 'update', data: { n: 1 } }, { seq: 3 }), {
      extensions: false,
    })
    expect(plain.ok && 'seq' in plain.frame).toBe(false)
  })

  it('keeps big integers exact with a lossless parseJson', () => {
    const text = wrapper({ type: 'update', data: { n: 0 } }).replace(
      '"n":0',
      '"n":9007199254740993',
    )
    const exact = parseServerFrame(text, { parseJson: (t) => parse(t, null, parseJsonNumber) })
    expect(exact).toMatchObject({ ok: true, frame: { event: { data: { n: 9007199254740993n } } } })
  })

  it('turns a throwing parseJson into invalid_json', () => {
    const parsed = parseServerFrame('{}', {
      parseJson: () => {
        throw 'boom'
      },
    })
    expect(parsed).toEqual({
      ok: false,
      error: { code: 'invalid_json', message: 'The frame is not valid JSON (boom).' },
    })
  })
})

describe('serializeFrame', () => {
  it('writes the engine wrapper with its keys in the engine order', () => {
    const text = serializeFrame({
      type: 'stream',
      timestamp: 1,
      streamName: 'chat',
      groupId: 'room-1',
      id: null,
      event: { type: 'sync', data: [] },
    })
    expect(text).toBe(
      '{"type":"stream","timestamp":1,"streamName":"chat","groupId":"room-1","id":null,"event":{"type":"sync","data":[]}}',
    )
  })

  it('refuses to write a bigint silently wrong', () => {
    const frame = {
      type: 'stream',
      timestamp: 1,
      streamName: 's',
      groupId: 'g',
      id: 'i',
      event: { type: 'create', data: 2n ** 60n },
    } as const
    expect(() => serializeFrame(frame)).toThrow(TypeError)
  })
})
