import type { IIIClient } from 'iii-sdk'

/** Points kept per series: the dashboard charts the last minute or so. */
export const SERIES_LENGTH = 60

interface Metric {
  readonly id: string
  readonly label: string
  readonly unit: string
  /** The next value, from the last one: a bounded random walk. */
  step(value: number): number
  readonly initial: number
  readonly counted?: boolean
}

const METRICS: readonly Metric[] = [
  {
    id: 'cpu',
    label: 'CPU',
    unit: '%',
    initial: 35,
    step: (v) => clamp(v + (Math.random() - 0.5) * 8, 2, 98),
  },
  {
    id: 'memory',
    label: 'Memory',
    unit: 'MB',
    initial: 512,
    step: (v) => clamp(v + (Math.random() - 0.48) * 20, 128, 2048),
  },
  {
    id: 'requests',
    label: 'Requests',
    unit: 'req/s',
    initial: 120,
    counted: true,
    step: (v) => clamp(v + (Math.random() - 0.5) * 30, 0, 600),
  },
]

function clamp(value: number, min: number, max: number): number {
  return Math.round(Math.min(max, Math.max(min, value)) * 10) / 10
}

/**
 * Feeds stream `metrics`, group `live`, several times a second with `stream::update` ops: `set`
 * the value, `increment` the total, `append` a point to a bounded series (replaced with `set` once
 * it is full), `merge` the update time. Returns a function that stops it.
 */
export async function feedMetrics(worker: IIIClient, everyMs = 250): Promise<() => void> {
  const state = new Map<string, { value: number; series: { t: number; v: number }[] }>()
  for (const metric of METRICS) {
    const now = Date.now()
    state.set(metric.id, { value: metric.initial, series: [{ t: now, v: metric.initial }] })
    await worker.trigger({
      function_id: 'stream::set',
      payload: {
        stream_name: 'metrics',
        group_id: 'live',
        item_id: metric.id,
        data: {
          id: metric.id,
          label: metric.label,
          unit: metric.unit,
          value: metric.initial,
          ...(metric.counted ? { total: 0 } : {}),
          series: [{ t: now, v: metric.initial }],
          meta: { updatedAt: now },
        },
      },
    })
  }
  const tick = async () => {
    const now = Date.now()
    for (const metric of METRICS) {
      const current = state.get(metric.id)!
      const value = metric.step(current.value)
      const point = { t: now, v: value }
      current.value = value
      current.series.push(point)
      const full = current.series.length > SERIES_LENGTH
      if (full) current.series.splice(0, current.series.length - SERIES_LENGTH)
      const ops = [
        { type: 'set', path: 'value', value },
        full
          ? { type: 'set', path: 'series', value: current.series }
          : { type: 'append', path: 'series', value: point },
        { type: 'merge', path: 'meta', value: { updatedAt: now } },
        ...(metric.counted ? [{ type: 'increment', path: 'total', by: Math.round(value) }] : []),
      ]
      await worker.trigger({
        function_id: 'stream::update',
        payload: { stream_name: 'metrics', group_id: 'live', item_id: metric.id, ops },
      })
    }
  }
  let running = true
  const loop = async () => {
    while (running) {
      const started = Date.now()
      await tick().catch((error) => console.warn(`[backend] metrics tick failed: ${error.message}`))
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, everyMs - (Date.now() - started))),
      )
    }
  }
  void loop()
  return () => {
    running = false
  }
}
