import { type IIIClient, InvocationError, registerWorker, TriggerAction } from 'iii-sdk'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { StreamServer } from '../index.ts'

/** The harness's server, whose log lines a test can read. */
type TestServer = StreamServer & { log: string[] }

import { connect, startServer } from './_harness.ts'

const workers: IIIClient[] = []
afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.shutdown().catch(() => {})
})

/** A server with a worker port, and an unmodified iii-sdk worker connected to it. */
async function withWorker(
  name = 'test-worker',
): Promise<{ server: TestServer; worker: IIIClient }> {
  const server = await startServer({ workerPort: 0 })
  const worker = connectWorker(server, name)
  await waitForWorkers(server, 1)
  return { server, worker }
}

function connectWorker(server: StreamServer, name: string): IIIClient {
  const worker = registerWorker(server.workerUrl as string, {
    workerName: name,
    invocationTimeoutMs: 5000,
  })
  workers.push(worker)
  return worker
}

/** Waits until a function is callable, which is when the SDK's registration has arrived. */
async function registered(
  server: StreamServer,
  functionId: string,
  payload: unknown = {},
): Promise<void> {
  await expect
    .poll(async () => {
      try {
        await server.trigger({ function_id: functionId, payload })
        return true
      } catch (error) {
        return (error as { code?: string }).code !== 'function_not_found'
      }
    })
    .toBe(true)
}

async function waitForWorkers(server: TestServer, count: number): Promise<void> {
  await expect
    .poll(() => server.log.filter((line) => line.includes('connected')).length)
    .toBeGreaterThanOrEqual(count)
}

const item = { stream_name: 'chat', group_id: 'room-1', item_id: 'm1' }

describe('the worker port with iii-sdk 0.22.1', () => {
  it('runs every stream function for a worker, with the engine results and error codes', async () => {
    const { worker } = await withWorker()
    expect(
      await worker.trigger({
        function_id: 'stream::set',
        payload: { ...item, data: { text: 'hi' } },
      }),
    ).toEqual({
      old_value: null,
      new_value: { text: 'hi' },
    })
    expect(await worker.trigger({ function_id: 'stream::get', payload: item })).toEqual({
      text: 'hi',
    })
    expect(
      await worker.trigger({ function_id: 'stream::get', payload: { ...item, item_id: 'nope' } }),
    ).toBeUndefined()
    expect(
      await worker.trigger({
        function_id: 'stream::list',
        payload: { stream_name: 'chat', group_id: 'room-1' },
      }),
    ).toEqual([{ text: 'hi' }])
    expect(
      await worker.trigger({
        function_id: 'stream::list_groups',
        payload: { stream_name: 'chat' },
      }),
    ).toEqual(['room-1'])
    expect(await worker.trigger({ function_id: 'stream::list_all', payload: {} })).toEqual({
      stream: [{ id: 'chat', groups: ['room-1'] }],
      count: 1,
    })
    expect(
      await worker.trigger({
        function_id: 'stream::update',
        payload: { ...item, ops: [{ type: 'increment', path: 'n', by: 2 }] },
      }),
    ).toEqual({ old_value: { text: 'hi' }, new_value: { text: 'hi', n: 2 } })
    expect(
      await worker.trigger({
        function_id: 'stream::send',
        payload: { stream_name: 'chat', group_id: 'room-1', type: 't', data: 1 },
      }),
    ).toBeNull()
    expect(await worker.trigger({ function_id: 'stream::delete', payload: item })).toEqual({
      old_value: { text: 'hi', n: 2 },
    })
    const refused = await worker
      .trigger({ function_id: 'stream::set', payload: { ...item } })
      .catch((error) => error)
    expect(refused).toBeInstanceOf(InvocationError)
    expect(refused).toMatchObject({ code: 'deserialization_error' })
    expect((refused as Error).message).toContain(
      'Failed to deserialize input for stream::set: missing field `data`',
    )
    const missing = await worker
      .trigger({ function_id: 'nowhere', payload: {} })
      .catch((error) => error)
    expect(missing).toMatchObject({
      code: 'function_not_found',
      message: expect.stringContaining('Function nowhere not found in namespace default.'),
    })
  })

  it('runs void triggers without an answer, and a browser sees the changes a worker makes', async () => {
    const { server, worker } = await withWorker()
    const browser = await connect(server, '/?iii-streams=1')
    await browser.next()
    browser.join('s', 'chat', 'room-1')
    await browser.next()
    await worker.trigger({
      function_id: 'stream::set',
      payload: { ...item, data: { text: 'from a worker' } },
      action: TriggerAction.Void(),
    })
    expect(await browser.next()).toMatchObject({
      id: 'm1',
      event: { type: 'create', data: { text: 'from a worker' } },
      seq: 1,
    })
  })

  it('serves functions a worker registers: auth, overrides, join handlers, and calls from in-process code', async () => {
    const server = await startServer({ workerPort: 0, authFunction: 'auth::check' })
    const worker = connectWorker(server, 'backend')
    const seen: unknown[] = []
    worker.registerFunction(
      'auth::check',
      async (input: { query_params: Record<string, string[]> }) => ({
        context: { user: input.query_params.token?.[0] ?? null },
      }),
    )
    worker.registerFunction(
      'rooms::join',
      async (input: { group_id: string; context: { user: string } }) => {
        seen.push(input)
        return input.group_id === 'staff' && input.context?.user !== 'boss'
          ? { unauthorized: true }
          : {}
      },
    )
    worker.registerFunction('stream::get(profiles)', async (input: { item_id: string }) => ({
      name: `profile of ${input.item_id}`,
    }))
    worker.registerFunction(
      'math::double',
      async (input: { n: number; _caller_worker_id?: string }) => ({
        twice: input.n * 2,
        caller: input._caller_worker_id ?? null,
      }),
    )
    worker.registerTrigger({ type: 'stream:join', function_id: 'rooms::join', config: {} })
    await registered(server, 'math::double', { n: 1 })
    expect(await server.trigger({ function_id: 'math::double', payload: { n: 21 } })).toEqual({
      twice: 42,
      caller: null,
    })
    expect(
      await server.trigger({
        function_id: 'stream::get',
        payload: { stream_name: 'profiles', group_id: 'g', item_id: 'ada' },
      }),
    ).toEqual({
      name: 'profile of ada',
    })
    // A function registered in-process, called by the worker (which gets _caller_worker_id added).
    server.registerFunction('local::echo', async (input: unknown) => input)
    const echoed = (await worker.trigger({
      function_id: 'local::echo',
      payload: { a: 1 },
    })) as Record<string, unknown>
    expect(echoed.a).toBe(1)
    expect(echoed._caller_worker_id).toEqual(expect.any(String))
    const staff = await connect(server, '/?token=intern')
    staff.join('s', 'chat', 'staff')
    expect((await staff.next()).event).toEqual({ type: 'unauthorized' })
    const boss = await connect(server, '/?token=boss')
    boss.join('s', 'chat', 'staff')
    expect((await boss.next()).event).toEqual({ type: 'sync', data: [] })
    expect(seen).toContainEqual(
      expect.objectContaining({ group_id: 'staff', context: { user: 'boss' } }),
    )
  })

  it('fires stream triggers on a worker, honouring a condition function, and stream:leave on disconnect', async () => {
    const { server, worker } = await withWorker()
    const changes: { id: string; type: string }[] = []
    const leaves: unknown[] = []
    worker.registerFunction('audit', async (payload: { id: string; event: { type: string } }) => {
      changes.push({ id: payload.id, type: payload.event.type })
    })
    worker.registerFunction('only-m', async (payload: { id: string }) => payload.id.startsWith('m'))
    worker.registerFunction('left', async (payload: unknown) => void leaves.push(payload))
    worker.registerTrigger({
      type: 'stream',
      function_id: 'audit',
      config: { stream_name: 'chat', condition_function_id: 'only-m' },
    })
    worker.registerTrigger({ type: 'stream:leave', function_id: 'left', config: {} })
    // Registered last: once it answers, the worker's earlier frames (the triggers) are in.
    worker.registerFunction('barrier', async () => true)
    await registered(server, 'barrier')
    await server.trigger({
      function_id: 'stream::set',
      payload: { ...item, item_id: 'x1', data: 1 },
    })
    await server.trigger({
      function_id: 'stream::set',
      payload: { ...item, item_id: 'm7', data: 1 },
    })
    await expect.poll(() => changes).toEqual([{ id: 'm7', type: 'create' }])
    const browser = await connect(server)
    browser.join('b', 'chat', 'room-1')
    await browser.next()
    browser.ws.close()
    await expect
      .poll(() => leaves)
      .toEqual([expect.objectContaining({ subscription_id: 'b', group_id: 'room-1' })])
  })

  it('ends calls in flight with invocation_stopped when their worker goes, and takes its functions away', async () => {
    const { server, worker } = await withWorker()
    let started: () => void = () => {}
    const running = new Promise<void>((resolve) => {
      started = resolve
    })
    worker.registerFunction('slow', async () => {
      started()
      return new Promise(() => {})
    })
    worker.registerFunction('ready', async () => true)
    await registered(server, 'ready')
    const call = server.trigger({ function_id: 'slow', payload: {} }).catch((error) => error)
    await running
    await worker.shutdown()
    expect(await call).toMatchObject({ code: 'invocation_stopped' })
    const gone = await server.trigger({ function_id: 'slow', payload: {} }).catch((error) => error)
    expect(gone).toMatchObject({ code: 'function_not_found' })
  })

  it('lets a worker that reconnects register again, and refuses a stream trigger without stream_name', async () => {
    const { server } = await withWorker('first')
    const first = workers[0]!
    first.registerFunction('svc::ping', async () => 'first')
    await registered(server, 'svc::ping')
    // The newer registration wins while the first worker is still connected (as after a
    // reconnect, before the old socket is seen closed), and the old one leaving does not take it.
    const second = connectWorker(server, 'second')
    second.registerFunction('svc::ping', async () => 'second')
    await expect
      .poll(async () => server.trigger({ function_id: 'svc::ping', payload: {} }).catch(() => null))
      .toBe('second')
    await first.shutdown()
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await server.trigger({ function_id: 'svc::ping', payload: {} })).toBe('second')
    // Built-in functions are never taken over.
    second.registerFunction('stream::set', async () => 'hijacked')
    second.registerFunction('after', async () => true)
    await registered(server, 'after')
    expect(
      await server.trigger({ function_id: 'stream::set', payload: { ...item, data: 1 } }),
    ).toEqual({
      old_value: null,
      new_value: 1,
    })
    const errors: string[] = []
    const original = console.error
    console.error = (...args: unknown[]) => void errors.push(args.join(' '))
    try {
      second.registerTrigger({ type: 'stream', function_id: 'svc::ping', config: {} })
      await expect.poll(() => errors.some((line) => line.includes('stream_name'))).toBe(true)
    } finally {
      console.error = original
    }
  })

  it('accepts the telemetry socket at /otel and discards its frames', async () => {
    const server = await startServer({ workerPort: 0 })
    const otel = new WebSocket(`ws://127.0.0.1:${server.workerPort}/otel`)
    await new Promise((resolve, reject) => {
      otel.once('open', resolve)
      otel.once('error', reject)
    })
    otel.send(Buffer.from('OTLP{"resourceSpans":[]}'))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(otel.readyState).toBe(WebSocket.OPEN)
    otel.close()
  })
})
