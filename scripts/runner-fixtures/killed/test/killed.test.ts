import t from 'tap'

t.test('first pass', async (t) => t.pass('fine'))
t.test('second pass', async (t) => t.pass('fine'))
t.test('killed half-way', async (t) => {
  t.pass('one assertion before it dies')
  process.kill(process.pid, 'SIGKILL')
})
t.test('never reached', async (t) => t.pass('fine'))
