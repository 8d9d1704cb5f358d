/** Where the chat finds its servers, who the user is and which room is open. */
export interface ChatConfig {
  /** The stream port, `ws://…`. */
  readonly streamUrl: string
  /** The demo backend's HTTP API. */
  readonly backendUrl: string
  /** The user name; the client sends it as its auth token. */
  readonly user: string
  readonly room: string
}

/** What `import.meta.env` may set. */
export interface ChatEnv {
  readonly VITE_STREAM_URL?: string
  readonly VITE_BACKEND_URL?: string
}

export const DEFAULTS = {
  streamUrl: 'ws://127.0.0.1:3112',
  backendUrl: 'http://127.0.0.1:3114',
  room: 'lobby',
} as const

/** Rooms offered as links beside the free-text switcher (`private-…` rooms are refused). */
export const SUGGESTED_ROOMS = ['lobby', 'random', 'private-staff'] as const

/** The server accepts group ids of 1 to 256 bytes; a room name stays well inside that. */
const MAX_ROOM_LENGTH = 64

/**
 * Reads the configuration from the page's query string (`?user=alice&room=lobby`) and Vite's env.
 *
 * @example
 * const config = readConfig(location.search, import.meta.env)
 */
export function readConfig(
  search: string,
  env: ChatEnv,
  random: () => number = Math.random,
): ChatConfig {
  const params = new URLSearchParams(search)
  return {
    streamUrl: env.VITE_STREAM_URL || DEFAULTS.streamUrl,
    backendUrl: (env.VITE_BACKEND_URL || DEFAULTS.backendUrl).replace(/\/+$/, ''),
    user: params.get('user')?.trim() || guestName(random),
    room: normalizeRoom(params.get('room') ?? '') ?? DEFAULTS.room,
  }
}

/**
 * A random `guest-xxxx` name.
 *
 * @example
 * guestName() // 'guest-k3f9'
 */
export function guestName(random: () => number = Math.random): string {
  const suffix = Array.from({ length: 4 }, () => Math.floor(random() * 36).toString(36)).join('')
  return `guest-${suffix}`
}

/**
 * A room name from user input, or null when there is nothing usable.
 *
 * @example
 * normalizeRoom('  Random ') // 'Random'
 */
export function normalizeRoom(text: string): string | null {
  const room = text.trim().replace(/\s+/g, '-').slice(0, MAX_ROOM_LENGTH)
  return room === '' ? null : room
}

/**
 * The page's query string for a room and user, so a link or reload keeps both.
 *
 * @example
 * pageSearch('lobby', 'alice') // '?room=lobby&user=alice'
 */
export function pageSearch(room: string, user: string): string {
  return `?${new URLSearchParams({ room, user })}`
}
