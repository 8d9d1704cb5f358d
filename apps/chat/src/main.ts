import { createStreamClient } from '@iii-streams/client'
import { mount } from 'svelte'
import App from './App.svelte'
import { pageSearch, readConfig } from './config.ts'
import './app.css'

const config = readConfig(location.search, import.meta.env)
// Put a generated guest name into the address, so a reload or a room link keeps the same user.
history.replaceState(history.state, '', pageSearch(config.room, config.user))

const user = config.user
const client = createStreamClient({ url: config.streamUrl, auth: () => user })

const target = document.getElementById('app')
if (!target) throw new Error('index.html has no #app element')
mount(App, { target, props: { client, config } })
