import { StreamProvider } from '@iii-streams/react'
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './app.tsx'
import { client } from './client.ts'
import './styles.css'

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <StreamProvider client={client}>
      <App />
    </StreamProvider>
  </StrictMode>,
)
