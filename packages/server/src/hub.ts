import type { ChangeMessage } from './adapters/adapter.ts'
import { type Connection, groupKey } from './connection.ts'
import { MessageTexts } from './message-texts.ts'

/**
 * Which connections hold subscriptions to which group, so that a message visits only the sockets
 * that want it, and its JSON text is made once for all of them.
 */
export class Hub {
  readonly #byGroup = new Map<string, Map<Connection, number>>()

  add(key: string, connection: Connection): void {
    let holders = this.#byGroup.get(key)
    if (holders === undefined) {
      holders = new Map()
      this.#byGroup.set(key, holders)
    }
    holders.set(connection, (holders.get(connection) ?? 0) + 1)
  }

  remove(key: string, connection: Connection): void {
    const holders = this.#byGroup.get(key)
    const count = holders?.get(connection)
    if (holders === undefined || count === undefined) return
    if (count > 1) holders.set(connection, count - 1)
    else {
      holders.delete(connection)
      if (holders.size === 0) this.#byGroup.delete(key)
    }
  }

  dispatch(message: ChangeMessage): void {
    const key = groupKey({ stream: message.frame.streamName, group: message.frame.groupId })
    const holders = this.#byGroup.get(key)
    if (holders === undefined) return
    const texts = new MessageTexts(message)
    for (const connection of holders.keys()) connection.deliver(texts, key)
  }
}
