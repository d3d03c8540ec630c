import t from 'tap'

t.test('first pass', async (t) => t.pass('fine'))
t.test('a skipped test', { skip: 'not on this machine' }, async (t) => t.pass('never runs'))
t.test('second pass', async (t) => t.pass('fine'))
t.test('a todo test', { todo: 'not written yet' }, async (t) => t.pass('never runs'))
t.test('third pass', async (t) => t.pass('fine'))
