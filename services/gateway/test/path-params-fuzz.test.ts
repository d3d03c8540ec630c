import t from 'tap'
import { createTestEnvironment, createTestUser, startService } from '@imageapi/testkit'
import { signInAdmin } from './helpers/admin.js'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// Every route with a path parameter, as the OpenAPI document lists it, called with hostile values
// by an admin and by a user: never a 5xx, always a JSON body with a message.
// View links are forwarded to the links service: it runs, so that they are fuzzed end to end.
const env = await createTestEnvironment(t)
const links = await startService(t, 'links', env.env)
const { app } = await buildTestGateway(t, { LINKS_URL: links.url! }, { env })
const { token: adminToken } = await signInAdmin(app, env.repos)
const member = await createTestUser(env.repos, 'Enterprise')
const userToken = (await login(app, member.email, member.password)).access

const HOSTILE_VALUES = [
  '2147483648',
  '2147483647',
  '9223372036854775808',
  '99999999999999999999999999',
  '1e400',
  '-1',
  '-2147483649',
  '0',
  '1.5',
  '0x10',
  '%00',
  'a%00b',
  'x'.repeat(5000),
  '%F0%9F%92%A9',
  'caf%C3%A9',
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e',
  '00000000-0000-0000-0000-00000000000g',
  '00000000-0000-4000-8000-0000000000000',
  '{00000000-0000-4000-8000-000000000000}',
  '00000000000040008000000000000000',
  'NaN',
  'null',
  '%27%20OR%201%3D1--',
]

interface ParamRoute {
  method: string
  path: string
}

async function routesWithPathParameters(): Promise<ParamRoute[]> {
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>> }
  const routes: ParamRoute[] = []
  for (const [path, operations] of Object.entries(doc.paths)) {
    if (!path.includes('{')) continue
    for (const method of Object.keys(operations)) {
      if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) routes.push({ method: method.toUpperCase(), path })
    }
  }
  return routes
}

function bodyMessage(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined
  const record = body as Record<string, unknown>
  if (typeof record.message === 'string') return record.message
  if (typeof record.detail === 'string') return record.detail
  // DRF's field errors, and the legacy view link's {"error": ["..."]}
  const lists = Object.values(record).filter((value): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string'))
  return lists[0]?.[0]
}

t.test('the OpenAPI document lists the routes with path parameters', async (t) => {
  const routes = await routesWithPathParameters()
  const paths = new Set(routes.map((route) => route.path))
  for (const expected of ['/api/admin/tiers/{id}', '/api/admin/users/{id}', '/api/images/{id}', '/api/links/{id}', '/api/admin/backfills/{id}']) {
    t.ok(paths.has(expected), `${expected} is fuzzed`)
  }
})

t.test('hostile path parameters on every route: no 5xx, a JSON body with a message, for an admin and a user', async (t) => {
  const routes = await routesWithPathParameters()
  let requests = 0
  for (const route of routes) {
    for (const value of HOSTILE_VALUES) {
      const url = route.path.replace(/\{[^}]+\}/g, value)
      for (const [who, token] of [['admin', adminToken], ['user', userToken]] as const) {
        const response = await app.inject({
          method: route.method as 'GET',
          url,
          headers: { authorization: `Bearer ${token}` },
          ...(['POST', 'PATCH', 'PUT'].includes(route.method) ? { payload: {} } : {}),
        })
        requests++
        const label = `${who} ${route.method} ${route.path} with ${value.slice(0, 40)}`
        if (response.statusCode >= 500) {
          t.fail(`${label}: ${response.statusCode} ${response.body.slice(0, 200)}`)
          continue
        }
        if (response.statusCode < 400) continue
        let body: unknown
        try {
          body = response.json()
        } catch {
          t.fail(`${label}: not JSON: ${response.body.slice(0, 200)}`)
          continue
        }
        if (!bodyMessage(body)) t.fail(`${label}: no message in ${response.body.slice(0, 200)}`)
      }
    }
  }
  t.ok(requests > 100, `${requests} requests sent`)
})

t.test('tier ids outside Postgres integer: 400 naming the range, as a non-numeric id; the largest int4 is a plain 404', async (t) => {
  for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
    for (const id of ['2147483648', '0', '-1', '1.5', 'abc', '99999999999999999999']) {
      const response = await app.inject({
        method,
        url: `/api/admin/tiers/${id}`,
        headers: { authorization: `Bearer ${adminToken}` },
        ...(method === 'PATCH' ? { payload: { name: 'x' } } : {}),
      })
      t.equal(response.statusCode, 400, `${method} ${id}`)
      t.match(response.json(), { statusCode: 400, error: 'Bad Request', field: 'id', message: 'id must be an integer from 1 to 2147483647' }, `${method} ${id}`)
    }
    const largest = await app.inject({
      method,
      url: '/api/admin/tiers/2147483647',
      headers: { authorization: `Bearer ${adminToken}` },
      ...(method === 'PATCH' ? { payload: { name: 'x' } } : {}),
    })
    t.equal(largest.statusCode, 404, `${method} 2147483647`)
    t.equal(largest.json().message, 'tier not found')
  }
})

t.test('uuid ids that are not uuids: 404 with a message, as an unknown uuid', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['GET', '/api/admin/users/', /user not found/],
    ['GET', '/api/images/', /image not found/],
    ['DELETE', '/api/images/', /image not found/],
  ]
  for (const [method, prefix, message] of cases) {
    for (const id of ['00000000-0000-0000-0000-00000000000g', '2147483648', 'x'.repeat(99)]) {
      const response = await app.inject({ method: method as 'GET', url: `${prefix}${id}`, headers: { authorization: `Bearer ${adminToken}` } })
      t.equal(response.statusCode, 404, `${method} ${prefix}${id.slice(0, 40)}`)
      t.match(response.json().message, message, response.body.slice(0, 200))
    }
  }
})

t.test('a malformed or overlong path parameter: 400 in the API error shape, before any route', async (t) => {
  const long = await app.inject({ method: 'GET', url: `/api/images/${'x'.repeat(500)}`, headers: { authorization: `Bearer ${userToken}` } })
  t.equal(long.statusCode, 400)
  t.same(long.json(), { statusCode: 400, error: 'Bad Request', message: 'a path parameter is longer than 100 characters, longer than any id' })
  const badEncoding = await app.inject({ method: 'GET', url: '/api/images/%E0%A4%A', headers: { authorization: `Bearer ${userToken}` } })
  t.equal(badEncoding.statusCode, 400)
  t.match(badEncoding.json(), { statusCode: 400, error: 'Bad Request', message: /is not valid percent-encoding/ })
})
