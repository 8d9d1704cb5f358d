import { memo, useEffect, useMemo, useRef, useState } from 'react'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { formatClock, formatNumber, type MetricPoint } from './metric.ts'

const HEIGHT = 140
const COLORS: Readonly<Record<string, string>> = {
  cpu: '#2563eb',
  memory: '#7c3aed',
  requests: '#059669',
}
const FALLBACK_COLOR = '#475569'

function toData(series: readonly MetricPoint[]): uPlot.AlignedData {
  // uPlot's time scale counts seconds; the backend's `t` is in milliseconds.
  return [series.map((point) => point.t / 1000), series.map((point) => point.v)]
}

function plotOptions(id: string, label: string, unit: string, width: number): uPlot.Options {
  const color = COLORS[id] ?? FALLBACK_COLOR
  return {
    width,
    height: HEIGHT,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: [
      {
        stroke: '#64748b',
        // At least 80 px between ticks: an HH:MM:SS label is about 60 px wide (they had run together).
        space: 80,
        grid: { stroke: '#e2e8f0' },
        ticks: { stroke: '#e2e8f0' },
        values: (_plot, ticks) => ticks.map((seconds) => formatClock(seconds * 1000)),
      },
      {
        stroke: '#64748b',
        size: 52,
        grid: { stroke: '#e2e8f0' },
        ticks: { stroke: '#e2e8f0' },
        values: (_plot, ticks) => ticks.map(formatNumber),
      },
    ],
    series: [
      {},
      {
        label: `${label} (${unit})`,
        stroke: color,
        width: 2,
        fill: `${color}1a`,
        points: { show: false },
      },
    ],
  }
}

interface MetricChartProps {
  readonly id: string
  readonly label: string
  readonly unit: string
  readonly series: readonly MetricPoint[]
}

/** A live uPlot line of one metric's series; it redraws only when `series` is a new array. */
export const MetricChart = memo(function MetricChart({
  id,
  label,
  unit,
  series,
}: MetricChartProps) {
  const container = useRef<HTMLDivElement>(null)
  const [plot, setPlot] = useState<uPlot | null>(null)
  const data = useMemo(() => toData(series), [series])

  useEffect(() => {
    const element = container.current
    if (element === null) return
    const created = new uPlot(plotOptions(id, label, unit, element.clientWidth), [[], []], element)
    const resize = new ResizeObserver(() =>
      created.setSize({ width: element.clientWidth, height: HEIGHT }),
    )
    resize.observe(element)
    setPlot(created)
    return () => {
      resize.disconnect()
      created.destroy()
      setPlot(null)
    }
  }, [id, label, unit])

  useEffect(() => {
    plot?.setData(data)
  }, [plot, data])

  return <div className="chart" data-testid={`chart-${id}`} ref={container} />
})
