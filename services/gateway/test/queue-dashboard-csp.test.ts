import t from 'tap'
import { buildTestGateway } from './helpers/build-test-app.js'
import { signInAdmin } from './helpers/admin.js'
import { QUEUE_DASHBOARD_CSP, withoutExternalLoads } from '../src/routes/admin/queue-dashboard.js'

// Issue 18, item 6: the queue dashboard loads nothing from outside the gateway (bull-board's page
// asks Google Fonts for its fonts; that link is dropped) under a CSP that forbids other hosts.

const { app, env } = await buildTestGateway(t)
const { asAdmin } = await signInAdmin(app, env.repos)
const session = await asAdmin({ method: 'POST', url: '/api/admin/session' })
const cookie = String(session.headers['set-cookie']).split(';')[0]!

/** The sources a CSP allows for each directive. */
function directives(csp: string): Map<string, string[]> {
  return new Map(
    csp
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter((words) => words[0])
      .map(([name, ...sources]) => [name!, sources]),
  )
}

t.test('the dashboard page holds no external URL', async (t) => {
  for (const url of ['/admin/queues', '/admin/queues/']) {
    const page = await app.inject({ method: 'GET', url, headers: { cookie } })
    t.equal(page.statusCode, 200, url)
    t.match(page.headers['content-type'], /text\/html/)
    t.match(page.body, '<base href="/admin/queues/"', 'the bull-board page')
    t.notMatch(page.body, /(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i, `${url}: no URL of another host`)
    t.notMatch(page.body, /fonts\.googleapis|fonts\.gstatic/, 'no web fonts from Google')
    const sources = [...page.body.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1]!)
    t.ok(sources.length > 0)
    t.ok(sources.every((source) => !/^[a-z]+:|^\/\//i.test(source)), `every src and href is on the gateway (${sources.join(', ')})`)
  }
})

t.test('its CSP: default-src self, nothing from another host in any directive', async (t) => {
  for (const url of ['/admin/queues', '/admin/queues/api/queues']) {
    const answer = await app.inject({ method: 'GET', url, headers: { cookie } })
    t.equal(answer.statusCode, 200, url)
    const csp = String(answer.headers['content-security-policy'])
    t.equal(csp, QUEUE_DASHBOARD_CSP, `${url}: the dashboard's policy`)
    const parsed = directives(csp)
    t.same(parsed.get('default-src'), ["'self'"])
    t.same(parsed.get('script-src'), ["'self'"], 'scripts only from the gateway, none inline')
    t.same(parsed.get('font-src'), ["'self'"])
    for (const [name, sources] of parsed) {
      for (const source of sources) {
        t.ok(/^'[a-z-]+'$/.test(source) || source === 'data:', `${name}: ${source} names no host and no scheme of hosts (https:, *)`)
      }
    }
  }
  // a static file of the dashboard too
  const page = await app.inject({ method: 'GET', url: '/admin/queues', headers: { cookie } })
  const css = /href="(static\/css\/[^"]+)"/.exec(page.body)?.[1]
  t.ok(css, 'the page links its stylesheet')
  const file = await app.inject({ method: 'GET', url: `/admin/queues/${css}`, headers: { cookie } })
  t.equal(file.statusCode, 200)
  t.equal(file.headers['content-security-policy'], QUEUE_DASHBOARD_CSP)
  t.notMatch(file.body, /@import|url\(\s*["']?(?:https?:)?\/\//, 'the stylesheet imports nothing from another host')
})

t.test('without the cookie: still 401, and the rest of the gateway keeps its own CSP', async (t) => {
  t.equal((await app.inject({ method: 'GET', url: '/admin/queues' })).statusCode, 401)
  const admin = await app.inject({ method: 'GET', url: '/admin/' })
  t.not(admin.headers['content-security-policy'], QUEUE_DASHBOARD_CSP, 'the console is not affected')
})

t.test('withoutExternalLoads drops stylesheets and scripts of other hosts, keeps the gateway’s', async (t) => {
  const html = [
    '<link href="https://fonts.googleapis.com/css2?family=X" rel="stylesheet">',
    '<link rel="stylesheet" href="//cdn.example/x.css">',
    '<script src="https://cdn.example/x.js"></script>',
    '<link href="static/css/main.css" rel="stylesheet">',
    '<script defer src="static/js/main.js"></script>',
  ].join('\n')
  t.equal(withoutExternalLoads(html), '<link href="static/css/main.css" rel="stylesheet">\n<script defer src="static/js/main.js"></script>')
})
