import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { EXTENSIONS_QUERY_PARAM } from '@iii-streams/protocol'
import type { GroupRef } from './adapters/adapter.ts'

/** The auth function's input, exactly as the engine builds it (STREAM-PROTOCOL.md §1.3). */
export interface StreamAuthInput {
  /** Lowercase names; a value that is not visible ASCII is dropped; the last of a repeated header wins. */
  readonly headers: Record<string, string>
  readonly path: string
  /** Each key's values in order; not percent-decoded; `+` kept; a key without `=` gets `""`. */
  readonly query_params: Record<string, string[]>
  /** The peer address with its port (`127.0.0.1:51834`, `[::1]:51834`). */
  readonly addr: string
}

/** The parts of an upgrade request the server decides on. */
export interface UpgradeTarget {
  readonly path: string
  readonly rawQuery: string
  /** `/stream/{s}/{g}[/{id}]`, percent-decoded, when the path addresses a group or item. */
  readonly pathJoin?: { readonly ref: GroupRef; readonly id: string | null }
}

/**
 * Reads the request line's target: `/` (the engine's only route) or, when path-addressed sockets
 * are on, `/stream/{s}/{g}[/{id}]`. `null`: no such route (404).
 */
export function readTarget(
  url: string | undefined,
  pathSockets: boolean,
): UpgradeTarget | null | 'bad' {
  const raw = url ?? '/'
  const queryAt = raw.indexOf('?')
  const path = queryAt === -1 ? raw : raw.slice(0, queryAt)
  const rawQuery = queryAt === -1 ? '' : raw.slice(queryAt + 1)
  if (path === '/') return { path, rawQuery }
  if (!pathSockets) return null
  const segments = path.split('/').slice(1)
  if (segments[segments.length - 1] === '') segments.pop()
  if (segments[0] !== 'stream' || segments.length < 3 || segments.length > 4) return null
  try {
    const [stream, group, id] = segments.slice(1).map((segment) => decodeURIComponent(segment))
    if (!stream || !group || id === '') return 'bad'
    return { path, rawQuery, pathJoin: { ref: { stream, group }, id: id ?? null } }
  } catch {
    return 'bad'
  }
}

/** `query_params` with the engine's quirks. */
export function parseQueryParams(rawQuery: string): Record<string, string[]> {
  const params: Record<string, string[]> = Object.create(null)
  if (rawQuery === '') return params
  for (const pair of rawQuery.split('&')) {
    const equals = pair.indexOf('=')
    const key = equals === -1 ? pair : pair.slice(0, equals)
    if (key === '') continue
    const value = equals === -1 ? '' : pair.slice(equals + 1)
    params[key] = [...(params[key] ?? []), value]
  }
  // A plain object for callers (JSON, spreading), with keys such as `__proto__` kept as data.
  return JSON.parse(JSON.stringify(params))
}

/** True when the client asked for the extensions (`?iii-streams=1`). */
export function asksForExtensions(queryParams: Record<string, string[]>): boolean {
  return (
    Object.hasOwn(queryParams, EXTENSIONS_QUERY_PARAM) &&
    queryParams[EXTENSIONS_QUERY_PARAM]?.includes('1') === true
  )
}

const VISIBLE_ASCII = /^[\t\x20-\x7e]*$/

/** The auth input of an upgrade request. */
export function authInput(request: IncomingMessage, target: UpgradeTarget): StreamAuthInput {
  const headers: Record<string, string> = Object.create(null)
  const raw = request.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase()
    const value = raw[i + 1]!
    if (VISIBLE_ASCII.test(value)) headers[name] = value
  }
  const address = request.socket.remoteAddress ?? ''
  const port = request.socket.remotePort ?? 0
  const ipv4Mapped = address.startsWith('::ffff:') ? address.slice(7) : address
  const addr = ipv4Mapped.includes(':') ? `[${ipv4Mapped}]:${port}` : `${ipv4Mapped}:${port}`
  return {
    headers: { ...headers },
    path: target.path,
    query_params: parseQueryParams(target.rawQuery),
    addr,
  }
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1'])

/**
 * The origin rule, checked before the upgrade. A request without `Origin` (a server, a CLI, a
 * worker) is allowed: the check protects browsers from cross-site pages. With `allowed`, the origin
 * must be listed exactly (or the list holds `*`); without it, only pages served from a loopback host
 * (`localhost`, `127.x.x.x`, `[::1]`) may connect.
 */
export function originAllowed(
  origin: string | undefined,
  allowed: readonly string[] | undefined,
): boolean {
  if (origin === undefined) return true
  if (allowed !== undefined) return allowed.includes('*') || allowed.includes(origin)
  try {
    const { hostname } = new URL(origin)
    return LOOPBACK_HOSTS.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname)
  } catch {
    return false
  }
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, reason: string, body: string): void {
  if (socket.destroyed) return
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  )
}
