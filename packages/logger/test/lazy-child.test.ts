import t from 'tap'
import { Writable } from 'node:stream'
import type { Logger } from 'pino'
import { createLogger, lazyChildLoggerFactory } from '../src/index.js'

function capture() {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>)
      done()
    },
  })
  return { lines, stream }
}

/** A parent logger that counts the children made from it. */
function countingParent(level: string) {
  const { lines, stream } = capture()
  const parent = createLogger({ name: 'lazy', level, destination: stream })
  let children = 0
  const child = parent.child.bind(parent)
  parent.child = ((bindings, options) => {
    children += 1
    return child(bindings, options)
  }) as Logger['child']
  return { parent, lines, children: () => children }
}

t.test('a line at an enabled level carries the bindings, as a pino child would', async (t) => {
  const { parent, lines, children } = countingParent('info')
  const log = lazyChildLoggerFactory(parent, { reqId: 'r-1' }, {})
  log.info({ extra: 1 }, 'hello')
  log.warn('again')
  t.equal(children(), 1, 'the child is made once, on the first line written')
  t.equal(lines.length, 2)
  t.match(lines[0], { reqId: 'r-1', extra: 1, msg: 'hello', name: 'lazy' })
  t.match(lines[1], { reqId: 'r-1', msg: 'again' })
})

t.test('nothing is made or written below the level', async (t) => {
  const { parent, lines, children } = countingParent('warn')
  const log = lazyChildLoggerFactory(parent, { reqId: 'r-2' }, {})
  log.info('not shown')
  log.debug('not shown')
  t.equal(log.isLevelEnabled('info'), false)
  t.equal(log.isLevelEnabled('error'), true)
  t.equal(children(), 0, 'no child for lines that are not written')
  t.equal(lines.length, 0)
  log.error('shown')
  t.equal(children(), 1)
  t.match(lines[0], { reqId: 'r-2', msg: 'shown', level: 50 })
})

t.test("a route's own level (the child's options) decides, not the parent's", async (t) => {
  const { parent, lines } = countingParent('info')
  const quiet = lazyChildLoggerFactory(parent, { reqId: 'r-3' }, { level: 'error' })
  t.equal(quiet.level, 'error')
  quiet.warn('below the route level')
  t.equal(lines.length, 0)
  const verbose = lazyChildLoggerFactory(parent, { reqId: 'r-4' }, { level: 'debug' })
  verbose.debug('above the route level')
  t.match(lines[0], { reqId: 'r-4', msg: 'above the route level' })
  const silent = lazyChildLoggerFactory(parent, { reqId: 'r-5' }, { level: 'silent' })
  silent.fatal('never')
  t.equal(lines.length, 1, "'silent' writes nothing")
})

t.test('setting the level or asking for a grandchild makes the real child', async (t) => {
  // a plain parent: countingParent's wrapper would be inherited by the child and hide its level
  const { lines, stream } = capture()
  const parent = createLogger({ name: 'lazy', level: 'warn', destination: stream })
  const log = lazyChildLoggerFactory(parent, { reqId: 'r-6' }, {})
  log.level = 'debug'
  log.debug('now enabled')
  log.child({ step: 'two' }).info('from the grandchild')
  t.match(lines[0], { reqId: 'r-6', msg: 'now enabled' })
  t.match(lines[1], { reqId: 'r-6', step: 'two', msg: 'from the grandchild' })
  t.match(log.bindings(), { reqId: 'r-6' })
})
