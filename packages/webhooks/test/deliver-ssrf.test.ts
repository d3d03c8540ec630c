import t from 'tap'
import { deliverWebhook, type DeliverWebhookOptions, type ResolvedAddress } from '../src/index.js'

// Nothing in this file may open a connection, even if deliverWebhook were broken: every call gets
// a connect hook that records the attempt and throws before a socket exists, and the URLs use
// port 9 (discard), where a stray packet could do nothing.
const HOST = 'hooks.example.test'
const URL_ = `https://${HOST}:9/hook`

function guardedDelivery(resolved: readonly ResolvedAddress[], overrides: Partial<DeliverWebhookOptions> = {}) {
  const connects: Array<[string, number]> = []
  const resolves: string[] = []
  const result = deliverWebhook({
    url: URL_,
    body: '{}',
    headers: {},
    timeoutMs: 2_000,
    resolve: async (hostname) => {
      resolves.push(hostname)
      return resolved
    },
    connect: (address, port) => {
      connects.push([address, port])
      throw new Error(`test guard: connection to ${address}:${port} attempted`)
    },
    ...overrides,
  })
  return { result, connects, resolves }
}

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 })
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 })

const REFUSED_TARGETS: ReadonlyArray<readonly [ResolvedAddress, RegExp]> = [
  [v4('10.0.0.5'), /private network/],
  [v4('192.168.1.20'), /private network/],
  [v4('172.20.0.2'), /private network/],
  [v4('169.254.169.254'), /link-local/],
  [v4('100.64.0.1'), /carrier-grade NAT/],
  [v4('0.0.0.0'), /unspecified/],
  [v4('127.0.0.1'), /loopback/],
  [v6('::1'), /loopback/],
  [v6('fd00::1'), /unique-local/],
  [v6('fe80::1'), /link-local/],
  [v6('::ffff:127.0.0.1'), /loopback/],
  [v6('::ffff:7f00:1'), /loopback/],
  [v6('64:ff9b::a9fe:a9fe'), /link-local/],
  [v4('224.0.0.251'), /multicast/],
  [v4('not-an-address'), /not a valid IP address/],
]

t.test('a hostname resolving to a non-public address is refused and never connected to', async (t) => {
  for (const [resolved, reason] of REFUSED_TARGETS) {
    const { result, connects, resolves } = guardedDelivery([resolved])
    const outcome = await result
    t.equal(outcome.outcome, 'refused', resolved.address)
    t.match(outcome.error, new RegExp(`${HOST} resolves to ${resolved.address.replace(/\./g, '\\.')} is`), resolved.address)
    t.match(outcome.error, reason, resolved.address)
    t.same(resolves, [HOST], `${resolved.address}: resolved once`)
    t.same(connects, [], `${resolved.address}: no connection attempted`)
  }
})

t.test('127.0.0.1 is refused when allowLoopback is false even with allowHttp', async (t) => {
  const { result, connects } = guardedDelivery([v4('127.0.0.1')], { url: `http://${HOST}:9/hook`, allowHttp: true, allowLoopback: false })
  t.equal((await result).outcome, 'refused')
  t.same(connects, [])
})

t.test('allowLoopback does not let a private address through', async (t) => {
  const { result, connects } = guardedDelivery([v4('10.0.0.5')], { allowLoopback: true })
  t.equal((await result).outcome, 'refused')
  t.same(connects, [])
})

t.test('a mix of a public and a private address is refused, whichever comes first', async (t) => {
  for (const mix of [[v4('93.184.215.14'), v4('10.0.0.5')], [v6('fd00::1'), v4('93.184.215.14')]]) {
    const { result, connects } = guardedDelivery(mix)
    const outcome = await result
    t.equal(outcome.outcome, 'refused', JSON.stringify(mix))
    t.same(connects, [], JSON.stringify(mix))
  }
})

t.test('the check runs on every delivery, so a name rebound to 127.0.0.1 is refused the second time', async (t) => {
  const answers = [[v4('93.184.215.14')], [v4('127.0.0.1')]]
  const connects: Array<[string, number]> = []
  const deliver = () =>
    deliverWebhook({
      url: URL_,
      body: '{}',
      headers: {},
      resolve: async () => answers.shift() ?? [],
      connect: (address, port) => {
        connects.push([address, port])
        // Stop the first (public-looking) attempt here too: it must not leave this machine.
        throw new Error('test guard: connection attempted')
      },
    })
  const first = await deliver()
  t.equal(first.outcome, 'failed', 'the public address passes the check and reaches the connect hook')
  t.match(first.error, /test guard/)
  t.same(connects, [['93.184.215.14', 9]], 'the connect hook saw the checked address and port')
  const second = await deliver()
  t.equal(second.outcome, 'refused')
  t.match(second.error, /127\.0\.0\.1 is a loopback address/)
  t.same(connects.length, 1, 'no connection attempted for the rebound name')
})

t.test('an IP-literal URL to a private address is refused without resolving or connecting', async (t) => {
  for (const url of ['https://10.0.0.5:9/', 'https://[fd00::1]:9/', 'https://169.254.169.254:9/latest/meta-data/', 'https://0x7f.1:9/']) {
    const { result, connects, resolves } = guardedDelivery([v4('8.8.8.8')], { url })
    t.equal((await result).outcome, 'refused', url)
    t.same(resolves, [], `${url}: not resolved`)
    t.same(connects, [], `${url}: not connected`)
  }
})

t.test('a URL failing the registration checks is refused before resolving', async (t) => {
  for (const url of [`http://${HOST}:9/`, `https://user:pw@${HOST}:9/`, 'https://localhost:9/', 'not a url']) {
    const { result, connects, resolves } = guardedDelivery([v4('8.8.8.8')], { url })
    const outcome = await result
    t.equal(outcome.outcome, 'refused', url)
    t.type(outcome.error, 'string', url)
    t.same(resolves, [], `${url}: not resolved`)
    t.same(connects, [], `${url}: not connected`)
  }
})

t.test('a resolver that fails or finds nothing gives failed, not a throw', async (t) => {
  const failing = guardedDelivery([], {
    resolve: async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND hooks.example.test'), { code: 'ENOTFOUND' })
    },
  })
  const failed = await failing.result
  t.equal(failed.outcome, 'failed')
  t.match(failed.error, /could not resolve hooks\.example\.test: getaddrinfo ENOTFOUND/)
  const empty = guardedDelivery([])
  t.match(await empty.result, { outcome: 'failed', error: /no addresses/ })
  t.same([...failing.connects, ...empty.connects], [])
})

t.test('a resolver that never answers is cut off by the timeout', async (t) => {
  const { result, connects } = guardedDelivery([], { resolve: () => new Promise(() => {}), timeoutMs: 100 })
  const outcome = await result
  t.equal(outcome.outcome, 'failed')
  t.match(outcome.error, /timeout/)
  t.ok(outcome.latencyMs >= 90 && outcome.latencyMs < 1_000, `latency ${outcome.latencyMs} ms`)
  t.same(connects, [])
})

t.test('invalid options reject with a TypeError or RangeError', async (t) => {
  const base = { url: URL_, body: '{}', headers: {}, resolve: async () => [v4('10.0.0.5')], connect: neverConnect }
  await t.rejects(deliverWebhook({ ...base, timeoutMs: 0 }), RangeError)
  await t.rejects(deliverWebhook({ ...base, maxResponseBytes: -1 }), RangeError)
  await t.rejects(deliverWebhook({ ...base, body: undefined as unknown as string }), TypeError)
})

function neverConnect(address: string, port: number): never {
  throw new Error(`test guard: connection to ${address}:${port} attempted`)
}
