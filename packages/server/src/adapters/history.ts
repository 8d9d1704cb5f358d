import { type ChangeMessage, HISTORY_LIMITS } from './adapter.ts'

interface Entry {
  readonly seq: number
  readonly at: number
  readonly message: ChangeMessage
}

/**
 * The recent changes of one group, for resume: at least the last `minChanges` or the last
 * `minAgeMs` of them, whichever holds more, and never more than `maxChanges`.
 */
export class ChangeHistory {
  #entries: Entry[] = []
  #start = 0

  constructor(
    private readonly limits: typeof HISTORY_LIMITS = HISTORY_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records the change that took `seq` (the next one after the last recorded). */
  record(seq: number, message: ChangeMessage): void {
    this.#entries.push({ seq, at: this.now(), message })
    this.#trim()
  }

  /**
   * The changes after `afterSeq` up to `currentSeq`, or null when some of them are no longer held.
   */
  after(afterSeq: number, currentSeq: number): ChangeMessage[] | null {
    if (afterSeq > currentSeq) return null
    if (afterSeq === currentSeq) return []
    const first = this.#entries[this.#start]
    if (first === undefined || first.seq > afterSeq + 1) return null
    const from = this.#start + (afterSeq + 1 - first.seq)
    return this.#entries.slice(from).map((entry) => entry.message)
  }

  /** Every held change, oldest first (for persistence). */
  entries(): readonly { seq: number; at: number; message: ChangeMessage }[] {
    return this.#entries.slice(this.#start)
  }

  /** Restores persisted entries (oldest first). */
  restore(entries: readonly { seq: number; at: number; message: ChangeMessage }[]): void {
    this.#entries = [...entries]
    this.#start = 0
    this.#trim()
  }

  #trim(): void {
    const { minChanges, minAgeMs, maxChanges } = this.limits
    const cutoff = this.now() - minAgeMs
    while (this.#entries.length - this.#start > minChanges) {
      const oldest = this.#entries[this.#start]!
      const held = this.#entries.length - this.#start
      if (oldest.at >= cutoff && held <= maxChanges) break
      this.#start++
    }
    // Compact now and then rather than shifting on every change.
    if (this.#start > 1024 && this.#start * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#start)
      this.#start = 0
    }
  }
}
