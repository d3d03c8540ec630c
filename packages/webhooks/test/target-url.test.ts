import t from 'tap'
import { checkWebhookUrl, webhookSafetyFromEnv } from '../src/index.js'

function reasonOf(url: string, safety = {}): string | undefined {
  const check = checkWebhookUrl(url, safety)
  return check.ok ? undefined : check.reason
}

t.test('a public https URL is accepted and returned parsed', async (t) => {
  const check = checkWebhookUrl('https://hooks.example.com:8443/imageapi?team=7')
  t.equal(check.ok, true)
  if (check.ok) t.equal(check.url.href, 'https://hooks.example.com:8443/imageapi?team=7')
})

t.test('http is refused unless allowHttp', async (t) => {
  t.match(reasonOf('http://hooks.example.com/'), /must start with https:\/\//)
  t.equal(reasonOf('http://hooks.example.com/', { allowHttp: true }), undefined)
})

t.test('schemes other than http and https are refused even with allowHttp', async (t) => {
  for (const url of ['ftp://hooks.example.com/', 'file:///etc/passwd', 'gopher://hooks.example.com/', 'javascript:alert(1)']) {
    t.match(reasonOf(url, { allowHttp: true }), /must start with https:\/\//, url)
  }
})

t.test('a username or password in the URL is refused', async (t) => {
  t.match(reasonOf('https://user:pass@hooks.example.com/'), /username or password/)
  t.match(reasonOf('https://user@hooks.example.com/'), /username or password/)
  t.match(reasonOf('https://:pass@hooks.example.com/'), /username or password/)
})

t.test('a fragment, even an empty one, is refused', async (t) => {
  t.match(reasonOf('https://hooks.example.com/#section'), /fragment/)
  t.match(reasonOf('https://hooks.example.com/#'), /fragment/)
})

t.test('URLs over 2048 characters are refused', async (t) => {
  const base = 'https://hooks.example.com/'
  t.equal(reasonOf(base + 'a'.repeat(2048 - base.length)), undefined, 'exactly 2048 is accepted')
  t.match(reasonOf(base + 'a'.repeat(2049 - base.length)), /at most 2048/)
})

t.test('text that is not an absolute URL is refused', async (t) => {
  for (const url of ['', '   ', 'hooks.example.com/path', '/relative', 'https://', 'https://exa mple.com/', 'https://[::1/']) {
    t.equal(checkWebhookUrl(url).ok, false, JSON.stringify(url))
  }
})

t.test('localhost and *.localhost are refused as loopback unless allowLoopback', async (t) => {
  for (const url of ['https://localhost/', 'https://LOCALHOST:8080/x', 'https://api.localhost/', 'https://localhost./']) {
    t.match(reasonOf(url), /loopback/, url)
    t.equal(reasonOf(url, { allowLoopback: true }), undefined, url)
  }
})

t.test('IP-literal hosts are classified, including forms the URL parser normalises', async (t) => {
  t.match(reasonOf('https://10.0.0.5/'), /10\.0\.0\.5 is a private network address/)
  t.match(reasonOf('https://169.254.169.254/latest/meta-data/'), /link-local/)
  t.match(reasonOf('https://[fd00::1]/'), /unique-local/)
  t.match(reasonOf('https://[::ffff:127.0.0.1]/'), /loopback/)
  t.match(reasonOf('https://0x7f.1/'), /127\.0\.0\.1 is a loopback address/)
  t.match(reasonOf('https://2130706433/'), /loopback/)
  t.match(reasonOf('https://0/'), /unspecified/)
  t.equal(reasonOf('https://8.8.8.8/'), undefined)
  t.equal(reasonOf('https://[2606:4700::1111]/'), undefined)
})

t.test('allowLoopback accepts loopback literals but still refuses private ones', async (t) => {
  t.equal(reasonOf('https://127.0.0.1:3000/', { allowLoopback: true }), undefined)
  t.equal(reasonOf('https://[::1]:3000/', { allowLoopback: true }), undefined)
  t.match(reasonOf('https://192.168.0.10/', { allowLoopback: true }), /private/)
})

t.test('webhookSafetyFromEnv defaults both switches off', async (t) => {
  t.same(webhookSafetyFromEnv({}), { allowLoopback: false, allowHttp: false })
  t.same(webhookSafetyFromEnv({ WEBHOOK_ALLOW_LOOPBACK: '', WEBHOOK_ALLOW_HTTP: '0', NODE_ENV: 'production' }), {
    allowLoopback: false,
    allowHttp: false,
  })
})

t.test('webhookSafetyFromEnv turns each switch on with 1 outside production', async (t) => {
  t.same(webhookSafetyFromEnv({ WEBHOOK_ALLOW_LOOPBACK: '1', NODE_ENV: 'development' }), { allowLoopback: true, allowHttp: false })
  t.same(webhookSafetyFromEnv({ WEBHOOK_ALLOW_HTTP: 'true' }), { allowLoopback: false, allowHttp: true })
})

t.test('webhookSafetyFromEnv throws when either switch is on in production, naming it', async (t) => {
  t.throws(() => webhookSafetyFromEnv({ WEBHOOK_ALLOW_LOOPBACK: '1', NODE_ENV: 'production' }), {
    message: /WEBHOOK_ALLOW_LOOPBACK must not be set when NODE_ENV=production/,
  })
  t.throws(() => webhookSafetyFromEnv({ WEBHOOK_ALLOW_HTTP: '1', NODE_ENV: 'production' }), { message: /WEBHOOK_ALLOW_HTTP/ })
  t.throws(() => webhookSafetyFromEnv({ WEBHOOK_ALLOW_HTTP: '1', WEBHOOK_ALLOW_LOOPBACK: '1', NODE_ENV: 'production' }), {
    message: /WEBHOOK_ALLOW_LOOPBACK and WEBHOOK_ALLOW_HTTP/,
  })
})

t.test('webhookSafetyFromEnv refuses values other than 1/0/true/false rather than guessing', async (t) => {
  t.throws(() => webhookSafetyFromEnv({ WEBHOOK_ALLOW_LOOPBACK: 'yes' }), { message: /WEBHOOK_ALLOW_LOOPBACK must be 1 or 0/ })
})
