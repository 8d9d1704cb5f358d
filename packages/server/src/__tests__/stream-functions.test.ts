import { describe, expect, it } from 'vitest'
import { connect, set, startServer } from './_harness.ts'
import { failure, runUpdateConformance } from './_update-conformance.ts'

const item = { stream_name: 'chat', group_id: 'room-1', item_id: 'm1' }

describe('stream functions (STREAM-PROTOCOL.md §3)', () => {
  it('return the engine results: bare values for reads, old/new values for writes', async () => {
    const server = await startServer()
    const call = (function_id: string, payload: unknown) => server.trigger({ function_id, payload })
    expect(await call('stream::set', { ...item, data: { text: 'hi' } })).toEqual({
      old_value: null,
      new_value: { text: 'hi' },
    })
    expect(await call('stream::set', { ...item, data: { text: 'yo' } })).toEqual({
      old_value: { text: 'hi' },
      new_value: { text: 'yo' },
    })
    expect(await call('stream::get', item)).toEqual({ text: 'yo' })
    expect(await call('stream::get', { ...item, item_id: 'missing' })).toBeUndefined()
    await call('stream::set', { ...item, item_id: 'm2', data: null })
    expect(await call('stream::list', { stream_name: 'chat', group_id: 'room-1' })).toEqual([
      { text: 'yo' },
      null,
    ])
    await call('stream::set', { stream_name: 'chat', group_id: 'room-0', item_id: 'x', data: 1 })
    await call('stream::set', { stream_name: 'alerts', group_id: 'g', item_id: 'x', data: 1 })
    expect(
      ((await call('stream::list_groups', { stream_name: 'chat' })) as string[]).sort(),
    ).toEqual(['room-0', 'room-1'])
    expect(await call('stream::list_all', {})).toEqual({
      stream: [
        { id: 'alerts', groups: ['g'] },
        { id: 'chat', groups: ['room-0', 'room-1'] },
      ],
      count: 2,
    })
    expect(
      await call('stream::update', {
        ...item,
        ops: [
          { type: 'increment', path: 'n', by: 2 },
          { type: 'append', path: 'text', value: 1 },
        ],
      }),
    ).toEqual({
      old_value: { text: 'yo' },
      new_value: { text: 'yo', n: 2 },
      errors: [
        {
          op_index: 1,
          code: 'append.type_mismatch',
          message: "Expected string append value at path 'text', got number.",
          doc_url: 'https://iii.dev/docs/workers/iii-state#error-codes',
        },
      ],
    })
    expect(await call('stream::delete', item)).toEqual({ old_value: { text: 'yo', n: 2 } })
    expect(await call('stream::delete', item)).toEqual({ old_value: null })
    expect(
      await call('stream::send', { stream_name: 'chat', group_id: 'room-1', type: 't', data: 1 }),
    ).toBeNull()
  })

  it('keeps a stored null distinct from a missing item', async () => {
    const server = await startServer()
    const client = await connect(server)
    client.join('s', 'chat', 'room-1')
    await client.next()
    await set(server, 'chat', 'room-1', 'm1', null)
    expect(await set(server, 'chat', 'room-1', 'm1', 1)).toEqual({ old_value: null, new_value: 1 })
    expect([(await client.next()).event.type, (await client.next()).event.type]).toEqual([
      'create',
      'update',
    ])
  })

  it.each([
    ['stream::set', { ...item }, /missing field `data`/],
    ['stream::set', { ...item, item_id: 5, data: 1 }, /item_id/],
    ['stream::set', { ...item, group_id: '', data: 1 }, /group_id.*1 to 256 bytes/],
    ['stream::set', { ...item, data: { when: new Date(0) } }, /Date/],
    ['stream::update', { ...item }, /missing field `ops`/],
    ['stream::update', { ...item, ops: [{ type: 'Set', path: 'a' }] }, /unknown op type 'Set'/],
    ['stream::send', { stream_name: 'chat', group_id: 'g', data: 1 }, /missing field `type`/],
    ['stream::get', 'not an object', /expected an object/],
  ])('refuse bad input to %s with deserialization_error', async (function_id, payload, message) => {
    const server = await startServer()
    const error = await failure(server.trigger({ function_id, payload }))
    expect(error.code).toBe('deserialization_error')
    expect(error.message).toMatch(
      new RegExp(`^Failed to deserialize input for ${function_id.replace(/[:]/g, '.')}: `),
    )
    expect(error.message).toMatch(message)
  })

  it('reports an unknown function as function_not_found, and a throwing handler as invocation_failed', async () => {
    const server = await startServer()
    expect(await failure(server.trigger({ function_id: 'nope', payload: {} }))).toEqual({
      code: 'function_not_found',
      message: 'Function nope not found in namespace default.',
    })
    server.registerFunction('boom', async () => {
      throw new Error('kaput')
    })
    expect(await failure(server.trigger({ function_id: 'boom', payload: {} }))).toEqual({
      code: 'invocation_failed',
      message: 'kaput',
    })
    expect(
      await server.trigger({ function_id: 'boom', payload: {}, action: { type: 'void' } }),
    ).toBeUndefined()
  })

  it('hands callers copies: mutating a result or an input cannot reach the store', async () => {
    const server = await startServer()
    const data = { list: [1] }
    await server.trigger({ function_id: 'stream::set', payload: { ...item, data } })
    data.list.push(2)
    const read = (await server.trigger({ function_id: 'stream::get', payload: item })) as {
      list: number[]
    }
    read.list.push(3)
    expect(await server.trigger({ function_id: 'stream::get', payload: item })).toEqual({
      list: [1],
    })
  })

  it('routes to per-stream overrides and still emits the changes they report', async () => {
    const server = await startServer()
    const calls: unknown[] = []
    server.registerFunction('stream::set(custom)', async (input) => {
      calls.push(input)
      return { old_value: null, new_value: { stored: 'elsewhere' } }
    })
    server.registerFunction('stream::get(custom)', async () => ({ from: 'override' }))
    server.registerFunction('stream::list(custom)', async () => [{ a: 1 }])
    server.registerFunction('stream::delete(custom)', async () => null)
    const client = await connect(server)
    client.join('s', 'custom', 'g')
    expect((await client.next()).event).toEqual({ type: 'sync', data: [{ a: 1 }] })
    const payload = {
      stream_name: 'custom',
      group_id: 'g',
      item_id: 'i',
      data: 1,
      _caller_worker_id: 'w1',
    }
    expect(await server.trigger({ function_id: 'stream::set', payload })).toEqual({
      old_value: null,
      new_value: { stored: 'elsewhere' },
    })
    expect(calls).toEqual([{ stream_name: 'custom', group_id: 'g', item_id: 'i', data: 1 }])
    expect((await client.next()).event).toEqual({ type: 'create', data: { stored: 'elsewhere' } })
    expect(
      await server.trigger({
        function_id: 'stream::get',
        payload: { stream_name: 'custom', group_id: 'g', item_id: 'i' },
      }),
    ).toEqual({
      from: 'override',
    })
    expect(
      await failure(
        server.trigger({
          function_id: 'stream::delete',
          payload: { stream_name: 'custom', group_id: 'g', item_id: 'i' },
        }),
      ),
    ).toEqual({
      code: 'STREAM_DELETE_ERROR',
      message: 'Function returned no result',
    })
  })
})

describe('stream::update runs the engine op vectors', () => {
  it('passes all 121 through the function, store and socket', async () => {
    const ran = await runUpdateConformance(await startServer())
    console.log(`stream::update conformance through the server: ${ran} cases`)
  })
})
