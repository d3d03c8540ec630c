import type { Registry } from 'prom-client'

type Labels<L extends string> = Record<L, string>

interface MetricValue {
  labels: Record<string, string | number>
  value: number
  metricName?: string
}

/**
 * Metrics for the hottest paths (every view, every request), bound to their label values once and
 * then updated with plain arithmetic. prom-client hashes the label set on every update, even through
 * a bound child, which showed in profiles of view links at tens of thousands of requests a second.
 * They register with a prom-client Registry and return what its metrics do from get(), so the
 * registry writes them out like any other: scrapes see ordinary counters and histograms.
 */
abstract class BoundMetric<L extends string, S extends { labels: Labels<L> }> {
  abstract readonly type: 'counter' | 'histogram'
  readonly aggregator = 'sum'
  protected readonly series = new Map<string, S>()

  constructor(
    readonly name: string,
    readonly help: string,
    registers: readonly Registry[],
  ) {
    for (const registry of registers) registry.registerMetric(this as never)
  }

  /** The series for these label values, made on first use; keep what it returns rather than asking per update. */
  protected seriesFor(labels: Labels<L>, create: () => S): S {
    const key = JSON.stringify(labels)
    let found = this.series.get(key)
    if (!found) {
      found = create()
      this.series.set(key, found)
    }
    return found
  }

  abstract get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }>
  abstract reset(): void
}

interface CounterSeries<L extends string> {
  labels: Labels<L>
  value: number
}

export class BoundCounter<L extends string> extends BoundMetric<L, CounterSeries<L>> {
  readonly type = 'counter'

  /** A series starts at 0 and is shown from then on, so a rate over it exists before its first event. */
  bind(labels: Labels<L>): { inc(by?: number): void } {
    const series = this.seriesFor(labels, () => ({ labels, value: 0 }))
    return {
      inc: (by = 1) => {
        series.value += by
      },
    }
  }

  async get() {
    const values = [...this.series.values()].map((s) => ({ labels: { ...s.labels }, value: s.value }))
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset(): void {
    for (const s of this.series.values()) s.value = 0
  }
}

interface HistogramSeries<L extends string> {
  labels: Labels<L>
  /** Observations per bucket, not cumulative; the last one is +Inf. */
  counts: number[]
  sum: number
  count: number
}

export class BoundHistogram<L extends string> extends BoundMetric<L, HistogramSeries<L>> {
  readonly type = 'histogram'

  constructor(
    name: string,
    help: string,
    readonly buckets: readonly number[],
    registers: readonly Registry[],
  ) {
    super(name, help, registers)
  }

  bind(labels: Labels<L>): { observe(value: number): void } {
    const series = this.seriesFor(labels, () => ({ labels, counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 }))
    const buckets = this.buckets
    return {
      observe: (value) => {
        let bucket = 0
        while (bucket < buckets.length && value > buckets[bucket]!) bucket++
        series.counts[bucket]! += 1
        series.sum += value
        series.count += 1
      },
    }
  }

  async get() {
    const values: MetricValue[] = []
    for (const s of this.series.values()) {
      let cumulative = 0
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i]!
        values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: `${this.name}_bucket` })
      })
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` })
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` })
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0)
      s.sum = 0
      s.count = 0
    }
  }
}
