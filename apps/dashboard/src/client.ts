import { createStreamClient } from '@iii-streams/client'

/** Where the demo's stream server listens unless `VITE_STREAM_URL` says otherwise. */
export const STREAM_URL: string = import.meta.env.VITE_STREAM_URL || 'ws://127.0.0.1:3112'

/** The app's one client: created once, at module scope, so renders and StrictMode never make another. */
export const client = createStreamClient({ url: STREAM_URL })
