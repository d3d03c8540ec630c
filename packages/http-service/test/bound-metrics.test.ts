import t from 'tap'
import { Counter, Histogram, Registry } from 'prom-client'
import { BoundCounter, BoundHistogram } from '../src/index.js'

// The bound metrics must be indistinguishable, on a scrape, from prom-client's own.
const BUCKETS = [0.005, 0.01, 0.1, 1]
const OBSERVATIONS: Array<[Record<'method' | 'status', string>, number]> = [
  [{ method: 'GET', status: '200' }, 0.004],
  [{ method: 'GET', status: '200' }, 0.005],
  [{ method: 'GET', status: '200' }, 0.07],
  [{ method: 'GET', status: '404' }, 2.5],
  [{ method: 'HEAD', status: '200' }, 0.0001],
]

t.test('a BoundHistogram scrapes exactly as a prom-client Histogram fed the same values', async (t) => {
  const reference = new Registry()
  const theirs = new Histogram({ name: 'req_seconds', help: 'request time', labelNames: ['method', 'status'], buckets: BUCKETS, registers: [reference] })
  const ours = new Registry()
  const histogram = new BoundHistogram<'method' | 'status'>('req_seconds', 'request time', BUCKETS, [ours])
  for (const [labels, value] of OBSERVATIONS) {
    theirs.observe(labels, value)
    histogram.bind(labels).observe(value)
  }
  t.equal(await ours.metrics(), await reference.metrics())
  ours.resetMetrics()
  t.match(await ours.metrics(), /req_seconds_count\{method="GET",status="200"\} 0/, 'reset zeroes the series and keeps them')
})

t.test('a BoundCounter scrapes as a prom-client Counter, and shows a bound series at 0 before its first event', async (t) => {
  const reference = new Registry()
  const theirs = new Counter({ name: 'outcomes_total', help: 'outcomes', labelNames: ['outcome'], registers: [reference] })
  const ours = new Registry()
  const counter = new BoundCounter<'outcome'>('outcomes_total', 'outcomes', [ours])
  const served = counter.bind({ outcome: 'served' })
  const expired = counter.bind({ outcome: 'expired' })
  t.match(await ours.metrics(), /outcomes_total\{outcome="expired"\} 0/)
  served.inc()
  served.inc()
  expired.inc(3)
  theirs.inc({ outcome: 'served' }, 2)
  theirs.inc({ outcome: 'expired' }, 3)
  t.equal(await ours.metrics(), await reference.metrics())
  counter.bind({ outcome: 'served' }).inc()
  t.match(await ours.metrics(), /outcomes_total\{outcome="served"\} 3/, 'the same series, whoever bound it')
})
