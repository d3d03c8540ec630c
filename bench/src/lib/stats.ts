/** Small statistics helpers; every benchmark reports medians with min and max over runs. */

export interface Spread {
  median: number
  min: number
  max: number
  runs: number[]
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Nearest-rank percentile (p in 0..100): the value at or below which p% of samples fall. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[Math.min(sorted.length, rank) - 1]!
}

export function spread(runs: readonly number[]): Spread {
  return { median: median(runs), min: Math.min(...runs), max: Math.max(...runs), runs: [...runs] }
}

/** Per-run ratios of paired figure/limit runs, then their spread. */
export function ratioSpread(figures: readonly number[], limits: readonly number[]): Spread {
  const n = Math.min(figures.length, limits.length)
  const ratios: number[] = []
  for (let i = 0; i < n; i++) ratios.push(figures[i]! / limits[i]!)
  return spread(ratios)
}

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length
}

export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/** A number with a sensible number of significant digits for a table. */
export function fmt(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return String(value)
  if (value === 0) return '0'
  const abs = Math.abs(value)
  if (abs >= 10 ** digits) return Math.round(value).toString()
  return Number(value.toPrecision(digits)).toString()
}

export function fmtSpread(s: Spread, unit = '', digits = 3): string {
  const u = unit ? ` ${unit}` : ''
  if (s.runs.length <= 1) return `${fmt(s.median, digits)}${u}`
  return `${fmt(s.median, digits)}${u} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`
}
