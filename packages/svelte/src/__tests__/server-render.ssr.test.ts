import { render } from 'svelte/server'
import { describe, expect, it } from 'vitest'
import { countJoins, startClient, startServer, until } from './_harness.ts'
import ServerRendered from './fixtures/ServerRendered.svelte'

describe('server rendering', () => {
  it('shows loading snapshots and joins nothing, through every store and rune', async () => {
    const server = await startServer()
    const { joins } = countJoins(server)
    const client = startClient(server)
    const { body } = render(ServerRendered, { props: { client } })
    expect(body).toContain('<p>loading:loading:true:connecting:loading</p>')
    // Past the client's linger (50 ms): a join would have opened a socket by now.
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(server.connectionCount).toBe(0)
    // And once a socket is open, a barrier join made after the render comes back with its sync
    // once every earlier frame was handled: no join came before it.
    const barrier = client.group('chat', 'barrier')
    const stop = barrier.subscribe(() => {})
    await until(barrier, (snapshot) => snapshot.status === 'ready')
    stop()
    expect(joins).toEqual(['barrier'])
  })
})
