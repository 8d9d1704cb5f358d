import type { Message } from './chat-types.ts'

/** The demo backend's HTTP API for the chat. */
export interface ChatBackend {
  /** Stores the message (`stream::set`); rejects when the backend refuses it. */
  send(room: string, message: Message): Promise<void>
  /** Announces that `user` is typing (`stream::send` of a `typing` event). */
  typing(room: string, user: string): Promise<void>
}

/**
 * The backend at `baseUrl` (`http://127.0.0.1:3114`).
 *
 * @example
 * const backend = createChatBackend('http://127.0.0.1:3114')
 * await backend.typing('lobby', 'alice')
 */
export function createChatBackend(baseUrl: string, fetchImpl: typeof fetch = fetch): ChatBackend {
  const post = async (path: string, body: unknown): Promise<void> => {
    const response = await fetchImpl(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    if (!response.ok) throw new Error(await failureOf(response))
  }
  return {
    send: (room, message) => post('/api/chat/send', { room, ...message }),
    typing: (room, user) => post('/api/chat/typing', { room, user }),
  }
}

/** The backend answers `{ error }` on failure; fall back to the status line. */
async function failureOf(response: Response): Promise<string> {
  try {
    const body: unknown = await response.json()
    if (body && typeof body === 'object' && 'error' in body && typeof body.error === 'string')
      return body.error
  } catch {
    // Not JSON: the status says enough.
  }
  return `the backend answered ${response.status} ${response.statusText}`.trim()
}
