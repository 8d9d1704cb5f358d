/** One point of a metric's series: `t` in epoch ms. */
export interface MetricPoint {
  readonly t: number
  readonly v: number
}

/** An item of stream `metrics`, group `live`, as the demo backend writes it. */
export interface Metric {
  readonly id: string
  readonly label: string
  readonly unit: string
  readonly value: number
  /** Only counters (requests) have one. */
  readonly total?: number
  readonly series: readonly MetricPoint[]
}

export const METRICS_STREAM = 'metrics'
export const METRICS_GROUP = 'live'

/**
 * A number as plain text with at most one decimal (`42.13` → `42.1`, `512` → `512`); a dash when the
 * backend sent something else.
 */
export function formatNumber(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—'
  // `+ 0` turns -0 into 0, so a value rounded from -0.04 reads "0".
  return String(Math.round(value * 10) / 10 + 0)
}

/** `HH:MM:SS` in local time, 24-hour. */
export function formatClock(time: number): string {
  const date = new Date(time)
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((part) => String(part).padStart(2, '0'))
    .join(':')
}
