// The whole demo stack for the end-to-end run, on ports of its own (4112 stream, 4134 worker,
// 4114 backend API, 4173 dashboard, 4174 chat, 4175 script-tag), with the apps built against them.
// It also serves a control endpoint (4199): POST /restart kills the stream server with SIGKILL and
// starts it again on the same data directory, so a spec can inject a server crash.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const tsx = join(root, 'packages/server/node_modules/.bin/tsx')
const data = mkdtempSync(join(tmpdir(), 'iii-e2e-'))
const env = {
  ...process.env,
  VITE_STREAM_URL: 'ws://127.0.0.1:4112',
  VITE_BACKEND_URL: 'http://127.0.0.1:4114',
}
const children = new Set()

function run(name, command, args, options = {}) {
  const child = spawn(command, args, {
    cwd: root,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
    ...options,
  })
  children.add(child)
  child.on('exit', (code) => {
    children.delete(child)
    // A part that fails on its own says so (killed ones, by the restart control, exit with a signal).
    if (code) console.error(`[stack] ${name} exited with code ${code}`)
  })
  return child
}

function build(filter) {
  const result = spawnSync('npx', ['--yes', 'pnpm@10.34.9', '--filter', filter, 'run', 'build'], {
    cwd: root,
    env,
    stdio: 'inherit',
  })
  if (result.status !== 0) throw new Error(`building ${filter} failed`)
}

let server
function startServer() {
  server = run('server', tsx, [
    '--conditions=@iii-streams/source',
    'packages/server/src/cli.ts',
    'serve',
    '--port',
    '4112',
    '--worker-port',
    '4134',
    '--auth-function',
    'demo::auth',
    '--adapter',
    'file',
    '--data-dir',
    data,
  ])
}

/** Resolves once nothing listens on the stream port any more. */
async function portFreed() {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await fetch('http://127.0.0.1:4112/')
    } catch {
      return
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('the killed server still answers on 4112')
}

build('@iii-streams/protocol')
build('@iii-streams/client')
build('@iii-streams/dashboard')
build('@iii-streams/chat')
startServer()
run('backend', join(root, 'apps/backend/node_modules/.bin/tsx'), ['src/main.ts'], {
  cwd: join(root, 'apps/backend'),
  env: { ...env, III_WORKER_URL: 'ws://127.0.0.1:4134', DEMO_API_PORT: '4114' },
})
for (const [app, port] of [
  ['dashboard', '4173'],
  ['chat', '4174'],
]) {
  run(
    app,
    join(root, `apps/${app}/node_modules/.bin/vite`),
    ['preview', '--port', port, '--strictPort', '--host', '127.0.0.1'],
    {
      cwd: join(root, `apps/${app}`),
    },
  )
}
run('script-tag', process.execPath, ['apps/script-tag/serve.mjs', '4175'])

// Ready when every service answers (the stream port answers plain HTTP with 426).
for (const url of [
  'http://127.0.0.1:4112/',
  'http://127.0.0.1:4114/api/health',
  'http://127.0.0.1:4173/',
  'http://127.0.0.1:4174/',
  'http://127.0.0.1:4175/',
]) {
  for (let attempt = 0; ; attempt++) {
    try {
      await fetch(url)
      break
    } catch {
      if (attempt > 300) throw new Error(`${url} did not come up`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }
}

createServer((request, response) => {
  if (request.method === 'POST' && request.url === '/restart') {
    server.once('exit', async () => {
      try {
        await portFreed()
        startServer()
        response.writeHead(200).end('restarted\n')
      } catch (error) {
        response.writeHead(500).end(`${error.message}\n`)
      }
    })
    // tsx runs the CLI in a child process of its own: a crash must take both at once.
    spawnSync('pkill', ['-KILL', '-P', String(server.pid)])
    server.kill('SIGKILL')
    return
  }
  response.writeHead(200).end('ok\n')
}).listen(4199, '127.0.0.1')

const stop = () => {
  for (const child of children) child.kill('SIGTERM')
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
