import t from 'tap'
import { ConfigError } from '@imageapi/config'
import { loadWorkerConfig } from '../src/config.js'

const PRODUCTION = { NODE_ENV: 'production', S3_ENDPOINT: 'http://s3:9000', LINK_SIGNING_KEYS: 'k1:aW5zZWN1cmUtdGVzdC1saW5rLWtleS0wMDAwMDAwMDAwMDA', PUBLIC_URL: 'https://img.example.com' }

t.test('webhook delivery defaults: 10 in flight, public https targets only, the full retry schedule, disabled after 20 failed deliveries', async (t) => {
  t.match(loadWorkerConfig({}), {
    WEBHOOK_CONCURRENCY: 10,
    WEBHOOK_ALLOW_LOOPBACK: false,
    WEBHOOK_ALLOW_HTTP: false,
    WEBHOOK_RETRY_SCALE: 1,
    WEBHOOK_DISABLE_AFTER_FAILURES: 20,
    WEBHOOK_RECONCILE_AFTER_SECONDS: 30,
  })
  t.ok(loadWorkerConfig(PRODUCTION), 'the defaults are fine in production')
})

t.test('webhook settings are read from strings outside production', async (t) => {
  t.match(
    loadWorkerConfig({
      WEBHOOK_CONCURRENCY: '3',
      WEBHOOK_ALLOW_LOOPBACK: 'true',
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_RETRY_SCALE: '0.0001',
      WEBHOOK_DISABLE_AFTER_FAILURES: '2',
      WEBHOOK_RECONCILE_AFTER_SECONDS: '1',
    }),
    { WEBHOOK_CONCURRENCY: 3, WEBHOOK_ALLOW_LOOPBACK: true, WEBHOOK_ALLOW_HTTP: true, WEBHOOK_RETRY_SCALE: 0.0001, WEBHOOK_DISABLE_AFTER_FAILURES: 2, WEBHOOK_RECONCILE_AFTER_SECONDS: 1 },
  )
})

t.test('each bad webhook value is a ConfigError naming its variable', async (t) => {
  const bad: Record<string, string> = {
    WEBHOOK_CONCURRENCY: '0',
    WEBHOOK_ALLOW_LOOPBACK: 'maybe',
    WEBHOOK_RETRY_SCALE: '0',
    WEBHOOK_DISABLE_AFTER_FAILURES: '0',
    WEBHOOK_RECONCILE_AFTER_SECONDS: '0',
  }
  for (const [variable, value] of Object.entries(bad)) {
    t.throws(() => loadWorkerConfig({ [variable]: value }), ConfigError, `${variable}=${value} is rejected`)
  }
  t.throws(() => loadWorkerConfig({ WEBHOOK_RETRY_SCALE: '2' }), ConfigError, 'a scale above 1 (a longer schedule) is rejected too')
})

t.test('production refuses the development and test escape hatches: loopback, plain http, a shortened retry schedule', async (t) => {
  let error: unknown
  try {
    loadWorkerConfig({ ...PRODUCTION, WEBHOOK_ALLOW_LOOPBACK: '1', WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_RETRY_SCALE: '0.5' })
  } catch (caught) {
    error = caught
  }
  t.type(error, ConfigError)
  t.same((error as ConfigError).problems.map((problem) => problem.variable), ['WEBHOOK_ALLOW_LOOPBACK', 'WEBHOOK_ALLOW_HTTP', 'WEBHOOK_RETRY_SCALE'])
})
