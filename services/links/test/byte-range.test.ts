import t from 'tap'
import { parseRange } from '../src/services/byte-range.js'

t.test('one satisfiable range', async (t) => {
  t.same(parseRange('bytes=0-99', 1000), { kind: 'partial', start: 0, end: 99 })
  t.same(parseRange('bytes=500-', 1000), { kind: 'partial', start: 500, end: 999 })
  t.same(parseRange('bytes=-100', 1000), { kind: 'partial', start: 900, end: 999 })
  t.same(parseRange('bytes=-5000', 1000), { kind: 'partial', start: 0, end: 999 }, 'a suffix longer than the file is the whole file, as a range')
  t.same(parseRange('bytes=900-5000', 1000), { kind: 'partial', start: 900, end: 999 }, 'the end is clamped')
})

t.test('unsatisfiable ranges', async (t) => {
  t.same(parseRange('bytes=1000-', 1000), { kind: 'unsatisfiable' })
  t.same(parseRange('bytes=2000-3000', 1000), { kind: 'unsatisfiable' })
  t.same(parseRange('bytes=-0', 1000), { kind: 'unsatisfiable' })
})

t.test('what is not a single byte range means the whole file', async (t) => {
  for (const header of [undefined, '', 'bytes=', 'bytes=-', 'items=0-1', 'bytes=0-1,5-9', 'bytes=abc', 'bytes=9-2']) {
    t.same(parseRange(header, 1000), { kind: 'whole' }, String(header))
  }
})
