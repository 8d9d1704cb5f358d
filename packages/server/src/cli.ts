#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { messageOf } from './errors.ts'
import {
  type AdapterOption,
  createStreamServer,
  type StreamServer,
  type StreamServerOptions,
} from './server.ts'

const USAGE = `Usage: iii-streams serve [options]

Runs an iii stream server (the engine's stream port, with the iii-streams extensions).

Options:
  --port <n>             stream port (default 3112; 0 picks a free one)
  --host <addr>          address to bind (default 127.0.0.1)
  --adapter <name>       memory (default), file or redis
  --data-dir <dir>       directory of the file adapter (default ./data)
  --redis-url <url>      Redis of the redis adapter (default redis://127.0.0.1:6379)
  --no-extensions        behave exactly like a plain engine
  --auth-function <id>   the function that turns each connection into an auth context
  --allowed-origin <url> a browser origin allowed to connect (repeatable; * for any;
                         default: pages served from loopback hosts only)
  --worker-port <n>      the worker port for iii-sdk workers (default 49134; 0 picks a free one)
  --no-worker-port       serve no worker port
  --heartbeat-ms <n>     heartbeat of extended connections (default 15000)
  -h, --help             this text
`

/** What the command line asks for, or why it cannot be followed. */
type Command =
  | { readonly ok: true; readonly help: true }
  | { readonly ok: true; readonly help: false; readonly options: StreamServerOptions }
  | { readonly ok: false; readonly message: string }

/** Parses the command line into server options, or explains what is wrong. */
function parseCommandLine(argv: readonly string[]): Command {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (error) {
    return { ok: false, message: messageOf(error) }
  }
  const { values, positionals } = parsed
  if (values.help) return { ok: true, help: true }
  if (positionals.length !== 1 || positionals[0] !== 'serve') {
    return {
      ok: false,
      message: `Unknown command "${positionals.join(' ')}": the command is serve.`,
    }
  }
  const port = integer(values.port, 'port', 3112)
  const heartbeatMs = integer(values['heartbeat-ms'], 'heartbeat-ms', 15_000)
  const workerPort = integer(values['worker-port'], 'worker-port', 49_134)
  if (typeof workerPort === 'string') return { ok: false, message: workerPort }
  if (typeof port === 'string') return { ok: false, message: port }
  if (typeof heartbeatMs === 'string') return { ok: false, message: heartbeatMs }
  let adapter: AdapterOption
  if (values.adapter === undefined || values.adapter === 'memory') adapter = { type: 'memory' }
  else if (values.adapter === 'file')
    adapter = { type: 'file', dir: values['data-dir'] ?? './data' }
  else if (values.adapter === 'redis')
    adapter = { type: 'redis', url: values['redis-url'] ?? 'redis://127.0.0.1:6379' }
  else
    return { ok: false, message: `Unknown adapter "${values.adapter}": use memory, file or redis.` }
  return {
    ok: true,
    help: false,
    options: {
      port,
      host: values.host ?? '127.0.0.1',
      adapter,
      extensions: !values['no-extensions'],
      heartbeatMs,
      workerPort: values['no-worker-port'] ? false : workerPort,
      ...(values['auth-function'] ? { authFunction: values['auth-function'] } : {}),
      ...(values['allowed-origin'] ? { allowedOrigins: values['allowed-origin'] } : {}),
    },
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      adapter: { type: 'string' },
      'data-dir': { type: 'string' },
      'redis-url': { type: 'string' },
      'no-extensions': { type: 'boolean' },
      'auth-function': { type: 'string' },
      'allowed-origin': { type: 'string', multiple: true },
      'heartbeat-ms': { type: 'string' },
      'worker-port': { type: 'string' },
      'no-worker-port': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

function integer(text: string | undefined, name: string, fallback: number): number | string {
  if (text === undefined) return fallback
  const value = Number(text)
  return Number.isSafeInteger(value) && value >= 0
    ? value
    : `--${name} must be a whole number, got "${text}".`
}

async function main(): Promise<void> {
  const command = parseCommandLine(process.argv.slice(2))
  if (!command.ok) {
    process.stderr.write(`iii-streams: ${command.message}\n\n${USAGE}`)
    process.exitCode = 2
    return
  }
  if (command.help) {
    process.stdout.write(USAGE)
    return
  }
  let server: StreamServer
  try {
    server = await createStreamServer(command.options)
  } catch (error) {
    process.stderr.write(`iii-streams: could not start: ${messageOf(error)}\n`)
    process.exitCode = 1
    return
  }
  process.stdout.write(`stream  ${server.url}\n`)
  if (server.workerUrl) process.stdout.write(`worker  ${server.workerUrl}\n`)
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    process.stdout.write(`${signal}: closing clients and flushing the store\n`)
    server.close().then(
      () => process.exit(0),
      (error) => {
        process.stderr.write(`iii-streams: close failed: ${messageOf(error)}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

await main()
