interface ImportMetaEnv {
  /** The stream port, default `ws://127.0.0.1:3112`. */
  readonly VITE_STREAM_URL?: string
  /** The demo backend's HTTP API, default `http://127.0.0.1:3114`. */
  readonly VITE_BACKEND_URL?: string
}

interface ImportMeta {
  readonly env: ImportMetaEnv
}
