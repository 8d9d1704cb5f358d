import type { StreamFrame } from '@iii-streams/protocol'
import type { ChangeMessage } from './adapters/adapter.ts'
import { toWireJson } from './wire-json.ts'

/**
 * The JSON texts of one message, each made at most once however many sockets receive it: the
 * engine's form (no `seq`) for plain connections, and the extended form (with `seq`, and a `patch`
 * in place of the full value when the ops are smaller) for extended ones.
 */
export class MessageTexts {
  #plain: string | undefined
  #extended: string | undefined

  constructor(readonly message: ChangeMessage) {}

  get plain(): string {
    if (this.#plain === undefined) {
      const { seq: _seq, ...engineFrame } = this.message.frame
      this.#plain = toWireJson(engineFrame)
    }
    return this.#plain
  }

  get extended(): string {
    if (this.#extended === undefined) this.#extended = this.#makeExtended()
    return this.#extended
  }

  #makeExtended(): string {
    const { frame, ops } = this.message
    if (ops === undefined || frame.event.type !== 'update') return toWireJson(frame)
    const opsText = toWireJson(ops)
    const valueText = toWireJson(frame.event.data)
    if (opsText.length >= valueText.length) return toWireJson(frame)
    const patch: StreamFrame = { ...frame, event: { type: 'patch', ops } }
    return toWireJson(patch)
  }
}
