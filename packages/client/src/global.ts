/**
 * The global the script-tag bundle defines, for TypeScript in a page that loads it:
 * `import type {} from '@iii-streams/client/global'` (or a `/// <reference types>` to it).
 *
 * @example
 * const client = IIIStreams.createStreamClient({ url: 'ws://127.0.0.1:3112' })
 */
import type * as Client from './index.ts'

declare global {
  var IIIStreams: typeof Client
}
