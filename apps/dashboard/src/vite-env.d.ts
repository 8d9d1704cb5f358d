interface ImportMetaEnv {
  /** The stream port to connect to; default `ws://127.0.0.1:3112`. */
  readonly VITE_STREAM_URL?: string
}
