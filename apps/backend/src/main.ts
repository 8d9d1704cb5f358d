/**
 * The demo backend: an iii worker written with the unmodified iii-sdk, connected to the stream
 * server's worker port. It feeds the dashboard's metrics, serves the chat (auth, presence, the
 * private-room refusal) and a small HTTP API for the chat's browsers.
 */
import { registerWorker } from 'iii-sdk'
import { registerChat, startChatApi } from './chat.ts'
import { feedMetrics } from './metrics.ts'

const workerUrl = process.env.III_WORKER_URL ?? 'ws://127.0.0.1:49134'
const apiPort = Number(process.env.DEMO_API_PORT ?? 3114)
const host = process.env.DEMO_HOST ?? '127.0.0.1'

const worker = registerWorker(workerUrl, {
  workerName: 'iii-streams-demo',
  // A call in flight when the server dies never gets its answer: give up in 3 s, not the SDK's
  // 30 s, so the metrics loop recovers as soon as the server is back.
  invocationTimeoutMs: 3000,
  // Back within a second of a restarted server (the SDK's back-off grows to 30 s): until this worker
  // is back, its auth function and join rule are missing there (apps/README.md).
  reconnectionConfig: { initialDelayMs: 100, maxDelayMs: 1000 },
  otel: { enabled: false },
  enableMetricsReporting: false,
})
registerChat(worker)
const stopMetrics = await feedMetrics(worker)
const stopApi = await startChatApi(worker, apiPort, host)
process.stdout.write(`backend  http://${host}:${apiPort}/api (worker of ${workerUrl})\n`)

const stop = async () => {
  stopMetrics()
  await stopApi()
  await worker.shutdown()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
