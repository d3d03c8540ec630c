import t from 'tap'

// no subtests, only assertions: one test
t.pass('one')
t.equal(2, 2, 'two')
t.ok(true, 'three')
