import t from 'tap'

// assertions on the file's root `t` from inside subtests: tap writes them as top-level results
// between the subtests, and they must not count as tests of their own
const root = t
t.test('first', async (t) => {
  root.pass('on the root t, from inside the first subtest')
  t.pass('fine')
})
t.test('second', async (t) => {
  root.ok(true, 'on the root t, from inside the second subtest')
  root.equal(1, 1, 'again')
  t.pass('fine')
})
