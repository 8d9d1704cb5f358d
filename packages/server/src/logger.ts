/** Where the server writes its log lines. Each method takes one line, never a stack trace. */
export interface Logger {
  info(line: string): void
  warn(line: string): void
  error(line: string): void
}

/** Lines to the console, prefixed `[iii-streams]`. */
export const consoleLogger: Logger = {
  info: (line) => console.log(`[iii-streams] ${line}`),
  warn: (line) => console.warn(`[iii-streams] ${line}`),
  error: (line) => console.error(`[iii-streams] ${line}`),
}

/** Discards everything (tests). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} }
