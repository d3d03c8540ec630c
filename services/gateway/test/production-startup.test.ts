import t from 'tap'
import { createTestEnvironment, startService } from '@imageapi/testkit'

// Issue 18, items 3 and 6: with NODE_ENV=production the gateway refuses to start without
// PUBLIC_URL (links are never built from a request's Host) or without METRICS_TOKEN (/metrics and
// /readyz are not public); with both it starts, /healthz stays open and the other two want the token.

const env = await createTestEnvironment(t)
const METRICS_TOKEN = 'metrics-token-for-this-test-0123456789'
const production: Record<string, string> = {
  ...env.env,
  NODE_ENV: 'production',
  JWT_SECRET: 'a-production-jwt-secret-of-at-least-32-characters',
  LINK_SIGNING_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64url')}`,
  PUBLIC_URL: 'https://img.example.com',
  METRICS_TOKEN,
}

for (const variable of ['PUBLIC_URL', 'METRICS_TOKEN']) {
  t.test(`NODE_ENV=production without ${variable}: exits 1, naming ${variable}`, async (t) => {
    const withoutIt = { ...production }
    delete withoutIt[variable]
    const error = await startService(t, 'gateway', withoutIt, { readyTimeoutMs: 60_000 }).then(
      () => undefined,
      (error: Error) => error,
    )
    t.ok(error, 'the gateway did not start')
    t.match(error?.message, /gateway exited \(1\) before it was ready/, 'exit code 1')
    t.match(error?.message, new RegExp(`${variable}: is required when NODE_ENV=production`), `says ${variable} is required`)
    t.same([...(error?.message ?? '').matchAll(/^\s*([A-Z][A-Z0-9_]+): is required/gm)].map((m) => m[1]), [variable], `names only ${variable}`)
  })
}

t.test('NODE_ENV=production with both: /healthz open, /metrics and /readyz 401 without the token, 200 with it', async (t) => {
  const gateway = await startService(t, 'gateway', production, { readyTimeoutMs: 60_000 })
  const base = gateway.url!
  t.equal((await fetch(`${base}/healthz`)).status, 200, '/healthz needs no token (health checks)')
  for (const path of ['/metrics', '/readyz']) {
    const bare = await fetch(`${base}${path}`)
    t.equal(bare.status, 401, `${path} without a token: 401`)
    t.match(bare.headers.get('www-authenticate'), /^Bearer/)
    t.notMatch(await bare.text(), /postgres|redis|storage|process_cpu/, `${path}: nothing of what it guards`)
    t.equal((await fetch(`${base}${path}`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status, 401, `${path} with a wrong token: 401`)
    t.equal((await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status, 200, `${path} with the token: 200`)
  }
  t.equal(await gateway.stop(), 0)
})
