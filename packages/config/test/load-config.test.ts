import t from 'tap'
import { ConfigError, loadConfig, Type } from '../src/index.js'

const schema = Type.Object({
  PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8000 }),
  DATABASE_URL: Type.String({ minLength: 1 }),
  DEBUG: Type.Boolean({ default: false }),
})

t.test('fills defaults and coerces strings', async (t) => {
  const config = loadConfig(schema, { DATABASE_URL: 'postgres://x', DEBUG: 'true' })
  t.same(config, { PORT: 8000, DATABASE_URL: 'postgres://x', DEBUG: true })
})

t.test('coerces numbers', async (t) => {
  t.equal(loadConfig(schema, { DATABASE_URL: 'x', PORT: '9000' }).PORT, 9000)
})

t.test('names a missing variable', async (t) => {
  const error = t.throws(() => loadConfig(schema, {})) as unknown as ConfigError
  t.ok(error instanceof ConfigError)
  t.same(error.problems.map((p) => p.variable), ['DATABASE_URL'])
  t.match(error.message, /DATABASE_URL: is required/)
})

t.test('names a bad value and shows it', async (t) => {
  const error = t.throws(() => loadConfig(schema, { DATABASE_URL: 'x', PORT: 'eighty' })) as unknown as ConfigError
  t.same(error.problems.map((p) => p.variable), ['PORT'])
  t.match(error.message, /PORT: .*"eighty"/)
})

t.test('rejects out-of-range numbers', async (t) => {
  const error = t.throws(() => loadConfig(schema, { DATABASE_URL: 'x', PORT: '70000' })) as unknown as ConfigError
  t.same(error.problems.map((p) => p.variable), ['PORT'])
})

t.test('treats empty strings as unset', async (t) => {
  t.equal(loadConfig(schema, { DATABASE_URL: 'x', PORT: '' }).PORT, 8000)
})

t.test('requireInProduction names what production lacks and ignores development', async (t) => {
  const { requireInProduction } = await import('../src/index.js')
  t.doesNotThrow(() => requireInProduction({ NODE_ENV: 'development' }, ['JWT_SECRET']))
  const error = t.throws(() => requireInProduction({ NODE_ENV: 'production', A: 'x', B: '' }, ['A', 'B', 'C'])) as unknown as ConfigError
  t.same(error.problems.map((p) => p.variable), ['B', 'C'])
  t.match(error.message, /B: is required when NODE_ENV=production/)
})

t.test('an integer must be written as one', async (t) => {
  for (const bad of ['1.5', '0x10', ' 5', '5e2', '']) {
    if (bad === '') continue
    const error = t.throws(() => loadConfig(schema, { DATABASE_URL: 'x', PORT: bad })) as unknown as ConfigError
    t.same(error.problems.map((p) => p.variable), ['PORT'], JSON.stringify(bad))
    t.match(error.message, JSON.stringify(bad), 'shows what was given')
  }
  t.equal(loadConfig(schema, { DATABASE_URL: 'x', PORT: '+8080' }).PORT, 8080)
})
