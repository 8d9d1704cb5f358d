import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { IIIClient } from 'iii-sdk'

/** Rooms whose joins are refused (the demo of `unauthorized`). */
export const isPrivateRoom = (room: string) => room.startsWith('private-')

/**
 * The chat's functions on the worker: the auth function (the token is the user name), presence kept
 * by `stream:join` / `stream:leave` triggers (counted per user, so two tabs of one user make one
 * presence), and the refusal of private rooms.
 */
export function registerChat(worker: IIIClient): void {
  worker.registerFunction(
    'demo::auth',
    async (input: { query_params?: Record<string, string[]> }) => ({
      context: { user: input.query_params?.token?.[0] ?? 'guest' },
    }),
  )
  const here = new Map<string, number>()
  worker.registerFunction(
    'demo::join',
    async (input: { stream_name: string; group_id: string; context: { user?: string } | null }) => {
      if (input.stream_name !== 'chat') return {}
      if (isPrivateRoom(input.group_id)) return { unauthorized: true }
      const user = input.context?.user ?? 'guest'
      const key = `${input.group_id}\u0000${user}`
      here.set(key, (here.get(key) ?? 0) + 1)
      await worker.trigger({
        function_id: 'stream::set',
        payload: {
          stream_name: 'presence',
          group_id: input.group_id,
          item_id: user,
          data: { id: user, name: user },
        },
      })
      return {}
    },
  )
  worker.registerFunction(
    'demo::leave',
    async (input: { stream_name: string; group_id: string; context: { user?: string } | null }) => {
      if (input.stream_name !== 'chat' || isPrivateRoom(input.group_id)) return
      const user = input.context?.user ?? 'guest'
      const key = `${input.group_id}\u0000${user}`
      const count = (here.get(key) ?? 1) - 1
      if (count > 0) {
        here.set(key, count)
        return
      }
      here.delete(key)
      await worker.trigger({
        function_id: 'stream::delete',
        payload: { stream_name: 'presence', group_id: input.group_id, item_id: user },
      })
    },
  )
  worker.registerTrigger({ type: 'stream:join', function_id: 'demo::join', config: {} })
  worker.registerTrigger({ type: 'stream:leave', function_id: 'demo::leave', config: {} })
}

/**
 * The chat's small HTTP API for browsers: `POST /api/chat/send` (`{ room, id, author, text, at }`,
 * refused with 500 when the text contains `#fail`, to show a rolled-back optimistic send) and
 * `POST /api/chat/typing` (`{ room, user }`), both calling stream functions through the worker.
 */
export function startChatApi(
  worker: IIIClient,
  port: number,
  host: string,
): Promise<() => Promise<void>> {
  const server = createServer(async (request, response) => {
    response.setHeader('access-control-allow-origin', '*')
    response.setHeader('access-control-allow-headers', 'content-type')
    if (request.method === 'OPTIONS') return end(response, 204, null)
    try {
      if (request.method === 'GET' && request.url === '/api/health')
        return end(response, 200, { ok: true })
      if (request.method !== 'POST') return end(response, 404, { error: 'not found' })
      const body = await readJson(request)
      if (request.url === '/api/chat/send') {
        const { room, id, author, text, at } = body as Record<string, unknown>
        if (
          typeof room !== 'string' ||
          typeof id !== 'string' ||
          typeof text !== 'string' ||
          typeof author !== 'string'
        ) {
          return end(response, 400, { error: 'send takes { room, id, author, text }' })
        }
        if (text.includes('#fail'))
          return end(response, 500, { error: 'the backend refused this message (#fail)' })
        await worker.trigger({
          function_id: 'stream::set',
          payload: {
            stream_name: 'chat',
            group_id: room,
            item_id: id,
            data: { id, author, text, at: typeof at === 'number' ? at : Date.now() },
          },
        })
        return end(response, 200, { ok: true })
      }
      if (request.url === '/api/chat/typing') {
        const { room, user } = body as Record<string, unknown>
        if (typeof room !== 'string' || typeof user !== 'string')
          return end(response, 400, { error: 'typing takes { room, user }' })
        await worker.trigger({
          function_id: 'stream::send',
          payload: { stream_name: 'chat', group_id: room, type: 'typing', data: { user } },
        })
        return end(response, 200, { ok: true })
      }
      return end(response, 404, { error: 'not found' })
    } catch (error) {
      return end(response, 500, { error: error instanceof Error ? error.message : String(error) })
    }
  })
  return new Promise((resolve) => {
    server.listen(port, host, () =>
      resolve(() => new Promise((done) => server.close(() => done()))),
    )
  })
}

function end(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, body === null ? {} : { 'content-type': 'application/json' })
  response.end(body === null ? undefined : JSON.stringify(body))
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  let text = ''
  for await (const chunk of request) {
    text += chunk
    if (text.length > 64 * 1024) throw new Error('body too large')
  }
  return text === '' ? {} : JSON.parse(text)
}
