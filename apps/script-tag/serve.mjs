// Serves the script-tag page and the client's IIFE bundle (packages/client/dist), nothing else:
// the page has no build step of its own. Usage: node serve.mjs [port]
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const files = {
  '/': [join(here, 'index.html'), 'text/html; charset=utf-8'],
  '/iii-streams.iife.js': [
    join(here, '../../packages/client/dist/iii-streams.iife.js'),
    'text/javascript; charset=utf-8',
  ],
}
const port = Number(process.argv[2] ?? 5175)
createServer(async (request, response) => {
  const [file, type] = files[(request.url ?? '/').split('?')[0]] ?? []
  if (!file) {
    response.writeHead(404).end('not found\n')
    return
  }
  try {
    const body = await readFile(file)
    response.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body)
  } catch {
    response
      .writeHead(500)
      .end('The client bundle is missing: run pnpm --filter @iii-streams/client build.\n')
  }
}).listen(port, '127.0.0.1', () => process.stdout.write(`script-tag  http://127.0.0.1:${port}/\n`))
