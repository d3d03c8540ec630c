import t from 'tap'

throw new Error('thrown while the file is imported, before any test')

t.test('never defined', async (t) => t.pass('fine'))
