import { useStream } from '@iii-streams/react'
import { STREAM_URL } from './client.ts'
import { ConnectionBadge } from './connection-badge.tsx'
import { METRICS_GROUP, METRICS_STREAM, type Metric } from './metric.ts'
import { MetricCard } from './metric-card.tsx'
import { useStaleSince } from './stale-since.ts'

function Metrics() {
  const { status, items, error } = useStream<Metric>(METRICS_STREAM, METRICS_GROUP)
  const staleSince = useStaleSince()
  if (status === 'loading') return <p className="notice">Waiting for metrics…</p>
  if (status !== 'ready') {
    return (
      <p className="notice notice--error" role="alert">
        Cannot read the metrics ({status}): {error?.message ?? 'unknown error'}
      </p>
    )
  }
  if (items.length === 0) {
    return <p className="notice">No metrics yet: start the demo backend, which writes them.</p>
  }
  return (
    <section className="grid">
      {items.map((metric) => (
        <MetricCard key={metric.id} metric={metric} staleSince={staleSince} />
      ))}
    </section>
  )
}

/** The dashboard: a connection badge, then one live card per item of `metrics` / `live`. */
export function App() {
  return (
    <main className="page">
      <header className="page__head">
        <h1>Live metrics</h1>
        <ConnectionBadge />
      </header>
      <Metrics />
      <footer className="page__foot">
        stream <code>metrics</code> · group <code>live</code> · <code>{STREAM_URL}</code>
      </footer>
    </main>
  )
}
