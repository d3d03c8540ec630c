import t from 'tap'
import { availableParallelism } from 'node:os'
import { ConfigError } from '@imageapi/config'
import { loadWorkerConfig } from '../src/config.js'

t.test('defaults work on a developer machine', async (t) => {
  t.match(loadWorkerConfig({}), {
    WORKER_CONCURRENCY: availableParallelism() + 1,
    WORKER_LOCK_SECONDS: 30,
    WORKER_STALLED_INTERVAL_SECONDS: 30,
    RECONCILE_AFTER_SECONDS: 120,
    RECONCILE_INTERVAL_SECONDS: 30,
    UPLOAD_MAX_PIXELS: 50_000_000,
    QUEUE_PREFIX: 'imageapi',
  })
})

t.test('numbers are read from strings', async (t) => {
  t.match(loadWorkerConfig({ WORKER_CONCURRENCY: '1', WORKER_LOCK_SECONDS: '2', WORKER_STALLED_INTERVAL_SECONDS: '1' }), {
    WORKER_CONCURRENCY: 1,
    WORKER_LOCK_SECONDS: 2,
    WORKER_STALLED_INTERVAL_SECONDS: 1,
  })
})

t.test('each bad value is a ConfigError naming its variable', async (t) => {
  const bad: Record<string, string> = {
    WORKER_CONCURRENCY: 'zero',
    WORKER_LOCK_SECONDS: '0',
    WORKER_STALLED_INTERVAL_SECONDS: 'often',
    RECONCILE_AFTER_SECONDS: '0',
    UPLOAD_MAX_PIXELS: '-1',
    QUEUE_PREFIX: 'has space',
    REDIS_URL: 'http://localhost',
  }
  for (const [variable, value] of Object.entries(bad)) {
    let error: unknown
    try {
      loadWorkerConfig({ [variable]: value })
    } catch (caught) {
      error = caught
    }
    t.type(error, ConfigError, `${variable}=${value} is rejected`)
    t.same((error as ConfigError).problems.map((problem) => problem.variable), [variable], `${variable}: only that variable is named`)
  }
})

t.test('production requires an explicit storage endpoint, and the link keys and public address image.ready webhooks build links with', async (t) => {
  for (const variable of ['S3_ENDPOINT', 'LINK_SIGNING_KEYS', 'PUBLIC_URL']) {
    t.throws(() => loadWorkerConfig({ NODE_ENV: 'production' }), { name: 'ConfigError', message: new RegExp(`${variable}: is required when NODE_ENV=production`) })
  }
  t.ok(loadWorkerConfig({ NODE_ENV: 'production', S3_ENDPOINT: 'http://s3:9000', LINK_SIGNING_KEYS: 'k1:aW5zZWN1cmUtdGVzdC1saW5rLWtleS0wMDAwMDAwMDAwMDA', PUBLIC_URL: 'https://img.example.com' }))
})
