import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import { messageOf } from '../errors.ts'
import { refuseUpgrade } from '../upgrade.ts'
import { type WorkerHost, WorkerSession } from './worker-session.ts'

/** The engine's worker port for `iii-sdk` workers: `/` speaks the protocol, `/otel` is discarded. */
export interface WorkerPort {
  readonly port: number
  readonly workerCount: number
  close(): Promise<void>
}

/**
 * Listens for workers on `port` (0 picks a free one). Functions and triggers they register join the
 * server's registry, so in-process code and workers call each other.
 */
export async function openWorkerPort(
  port: number,
  host: string,
  worker: WorkerHost,
): Promise<WorkerPort> {
  const sessions = new Set<WorkerSession>()
  // Frames of workers can be large (function payloads); the engine's limit is generous.
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 64 * 1024 * 1024,
  })
  const http: Server = createServer((_request, response) => {
    response.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8' })
    response.end('This is an iii worker port: connect an iii-sdk worker.\n')
  })
  http.on('upgrade', (request, socket, head) => {
    socket.on('error', () => socket.destroy())
    const path = (request.url ?? '/').split('?')[0]
    if (path !== '/' && path !== '/otel')
      return refuseUpgrade(socket, 404, 'Not Found', 'Workers connect to / (and /otel).\n')
    wss.handleUpgrade(request, socket, head, (ws) => {
      // The SDK's telemetry socket: accepted, and its frames dropped.
      if (path === '/otel') return
      const session = new WorkerSession(ws, worker)
      sessions.add(session)
      ws.on('close', () => sessions.delete(session))
      worker.logger.info(`worker ${session.workerId} connected`)
    })
  })
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(port, host, () => {
      http.off('error', reject)
      resolve()
    })
  })
  return {
    port: (http.address() as AddressInfo).port,
    get workerCount() {
      return sessions.size
    },
    async close() {
      for (const session of sessions) session.close(1001, 'server shutting down')
      for (const client of wss.clients) client.terminate()
      await new Promise<void>((resolve) => {
        http.close(() => resolve())
        http.closeAllConnections()
      }).catch((error) => worker.logger.warn(`worker port close: ${messageOf(error)}`))
    },
  }
}
