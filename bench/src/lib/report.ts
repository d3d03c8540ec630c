import { fmt, fmtSpread, type Spread } from './stats.js'

/** One line of a benchmark's result: our figure, the limit measured in the same run, their ratio. */
export interface ResultRow {
  label: string
  figure: Spread
  limit?: Spread
  unit: string
  limitLabel?: string
  /** figure/limit per paired run; for latencies > 1 means slower than the limit. */
  ratio?: Spread
  aim?: string
  /** undefined when the row carries no aim of its own. */
  met?: boolean
}

export interface BenchResult {
  name: string
  title: string
  rows: ResultRow[]
  /** Free-form facts that explain the figures (CPU split, sizes, plans). */
  notes: string[]
  /** Anything else worth keeping in the JSON file. */
  details: Record<string, unknown>
  seconds: number
}

export function formatResult(result: BenchResult): string {
  const lines: string[] = []
  lines.push(`\n## ${result.title}  (${result.seconds.toFixed(0)} s)\n`)
  lines.push('| measure | figure | limit | ratio | aim | met |')
  lines.push('|---|---|---|---|---|---|')
  for (const row of result.rows) {
    const limit = row.limit ? `${fmtSpread(row.limit, row.unit)}${row.limitLabel ? ` — ${row.limitLabel}` : ''}` : row.limitLabel ?? '—'
    const ratio = row.ratio ? fmtSpread(row.ratio, '', 3) : '—'
    const met = row.met === undefined ? '' : row.met ? 'yes' : '**no**'
    lines.push(`| ${row.label} | ${fmtSpread(row.figure, row.unit)} | ${limit} | ${ratio} | ${row.aim ?? ''} | ${met} |`)
  }
  if (result.notes.length) {
    lines.push('')
    for (const note of result.notes) lines.push(note.startsWith('```') || note.startsWith('  ') ? note : `- ${note}`)
  }
  return lines.join('\n')
}

export { fmt }
