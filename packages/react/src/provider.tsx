import type { StreamClient } from '@iii-streams/client'
import { createContext, type ReactNode, useContext } from 'react'

const StreamClientContext = createContext<StreamClient | null>(null)

/**
 * Makes a client available to every hook below it.
 *
 * @example
 * const client = createStreamClient({ url: 'ws://127.0.0.1:3112' })
 * root.render(<StreamProvider client={client}><App /></StreamProvider>)
 */
export function StreamProvider(props: { client: StreamClient; children?: ReactNode }) {
  return (
    <StreamClientContext.Provider value={props.client}>
      {props.children}
    </StreamClientContext.Provider>
  )
}

/**
 * The client of the nearest `StreamProvider`.
 *
 * @example
 * const client = useStreamClient()
 */
export function useStreamClient(): StreamClient {
  const client = useContext(StreamClientContext)
  if (client === null) {
    throw new Error(
      'useStreamClient: no client here. Wrap your app in <StreamProvider client={client}>.',
    )
  }
  return client
}
