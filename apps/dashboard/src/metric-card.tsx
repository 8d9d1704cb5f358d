import { memo } from 'react'
import { formatClock, formatNumber, type Metric } from './metric.ts'
import { MetricChart } from './metric-chart.tsx'

const NO_POINTS: readonly never[] = Object.freeze([])

interface MetricCardProps {
  readonly metric: Metric
  /** When the connection left `open`, or null while it is open. */
  readonly staleSince: number | null
}

/**
 * One metric: label, value, total (counters only) and chart. Memoised: the client's snapshots are
 * structurally shared, so a tick that changed another metric leaves this `metric` `===` and the
 * card does not re-render.
 */
export const MetricCard = memo(function MetricCard({ metric, staleSince }: MetricCardProps) {
  const { id, label, unit, value, total, series } = metric
  const stale = staleSince !== null
  return (
    <article className={stale ? 'card card--stale' : 'card'} data-testid={`card-${id}`}>
      <header className="card__head">
        <h2 className="card__label">{label}</h2>
        {stale && (
          <span className="card__stale" data-testid={`stale-${id}`}>
            stale since {formatClock(staleSince)}
          </span>
        )}
      </header>
      <p className="card__value">
        <span data-testid={`value-${id}`}>{formatNumber(value)}</span>
        <span className="card__unit">{unit}</span>
      </p>
      {total !== undefined && (
        <p className="card__total">
          total <span data-testid={`total-${id}`}>{formatNumber(total)}</span>
        </p>
      )}
      <MetricChart id={id} label={label} unit={unit} series={series ?? NO_POINTS} />
    </article>
  )
})
