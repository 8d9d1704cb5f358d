import react from '@vitejs/plugin-react'
import { defaultClientConditions, defineConfig } from 'vite'

const SERVER = { port: 5173, strictPort: true, host: '127.0.0.1' } as const

export default defineConfig({
  plugins: [react()],
  // The workspace packages run from their src/ (their exports' source condition): no build first.
  resolve: { conditions: ['@iii-streams/source', ...defaultClientConditions] },
  server: SERVER,
  preview: SERVER,
})
