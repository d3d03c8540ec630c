import t, { type Test } from 'tap'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { deliverWebhook, eventEnvelope, generateWebhookSecret, serializeEnvelope, signWebhook, type DeliverWebhookOptions } from '../src/index.js'

// Every receiver listens on 127.0.0.1 and is reached as http://receiver.test:<port>: `.test` never
// resolves in real DNS, so a delivery only arrives if deliverWebhook connects to the address the
// injected resolver gave instead of resolving the name again.
const RECEIVER_HOST = 'receiver.test'

interface Received {
  readonly method: string | undefined
  readonly url: string | undefined
  readonly headers: IncomingMessage['headers']
  readonly body: string
}

async function startReceiver(
  t: Test,
  answer: (request: IncomingMessage, response: ServerResponse) => void,
  listenOn: { address: string; port: number } = { address: '127.0.0.1', port: 0 },
) {
  const received: Received[] = []
  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    received.push({ method: request.method, url: request.url, headers: request.headers, body: Buffer.concat(chunks).toString() })
    answer(request, response)
  })
  server.listen(listenOn.port, listenOn.address)
  await once(server, 'listening')
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return { port: (server.address() as AddressInfo).port, received }
}

const secret = generateWebhookSecret()

function signedDelivery(port: number, overrides: Partial<DeliverWebhookOptions> = {}) {
  const body = serializeEnvelope(eventEnvelope('image.ready', { imageId: 'img_1' }, new Date()))
  const headers = signWebhook({ secret, id: 'msg_receiver_test', timestamp: new Date(), payload: body })
  const connects: Array<[string, number]> = []
  const resolves: string[] = []
  const options: DeliverWebhookOptions = {
    url: `http://${RECEIVER_HOST}:${port}/hook?via=test`,
    body,
    headers: { ...headers },
    allowHttp: true,
    allowLoopback: true,
    resolve: async (hostname) => {
      resolves.push(hostname)
      return hostname === RECEIVER_HOST ? [{ address: '127.0.0.1', family: 4 }] : []
    },
    connect: (address, connectPort) => {
      // Only this machine may be reached from this file, whatever the code under test does.
      if (!address.startsWith('127.')) throw new Error(`test guard: connection to ${address} attempted`)
      connects.push([address, connectPort])
    },
    ...overrides,
  }
  return { options, body, connects, resolves }
}

t.test('a 2xx answer is delivered over the pinned address and the receiver verifies the signature', async (t) => {
  const receiver = await startReceiver(t, (_request, response) => response.writeHead(204).end())
  const { options, body, connects, resolves } = signedDelivery(receiver.port)
  const result = await deliverWebhook(options)
  t.match(result, { outcome: 'delivered', status: 204 })
  t.type(result.latencyMs, 'number')
  t.equal(result.error, undefined)
  t.same(resolves, [RECEIVER_HOST])
  t.same(connects, [['127.0.0.1', receiver.port]])
  t.equal(receiver.received.length, 1)
  const [request] = receiver.received
  t.equal(request?.method, 'POST')
  t.equal(request?.url, '/hook?via=test')
  t.equal(request?.body, body)
  t.equal(request?.headers.host, `${RECEIVER_HOST}:${receiver.port}`, 'Host carries the hostname, not the address')
  t.equal(request?.headers['content-type'], 'application/json')
  t.equal(request?.headers['user-agent'], 'imageapi-webhooks/1')
  t.same(new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>), JSON.parse(body))
})

t.test('the caller cannot override content-type, user-agent or host', async (t) => {
  const receiver = await startReceiver(t, (_request, response) => response.writeHead(200).end('ok'))
  const { options } = signedDelivery(receiver.port)
  const headers = { ...options.headers, 'Content-Type': 'text/plain', 'User-Agent': 'other', Host: 'internal.example' }
  const result = await deliverWebhook({ ...options, headers })
  t.match(result, { outcome: 'delivered', status: 200, responseExcerpt: 'ok' })
  t.match(receiver.received[0]?.headers, { 'content-type': 'application/json', 'user-agent': 'imageapi-webhooks/1', host: `${RECEIVER_HOST}:${receiver.port}` })
})

t.test('a 500 answer is failed with the status and the start of the body', async (t) => {
  const receiver = await startReceiver(t, (_request, response) => response.writeHead(500).end('database down'))
  const result = await deliverWebhook(signedDelivery(receiver.port).options)
  t.match(result, { outcome: 'failed', status: 500, error: /answered 500/, responseExcerpt: 'database down' })
})

t.test('a 302 answer is failed and the redirect is not followed', async (t) => {
  const elsewhere = await startReceiver(t, (_request, response) => response.writeHead(200).end())
  const receiver = await startReceiver(t, (_request, response) =>
    response.writeHead(302, { location: `http://127.0.0.1:${elsewhere.port}/stolen` }).end(),
  )
  const { options, connects } = signedDelivery(receiver.port)
  const result = await deliverWebhook(options)
  t.match(result, { outcome: 'failed', status: 302, error: /redirects are not followed/ })
  t.equal(receiver.received.length, 1)
  t.equal(elsewhere.received.length, 0, 'the Location target received nothing')
  t.same(connects, [['127.0.0.1', receiver.port]], 'one connection, to the receiver only')
})

t.test('a receiver that never answers is failed with a timeout after timeoutMs', async (t) => {
  const receiver = await startReceiver(t, () => {})
  const result = await deliverWebhook({ ...signedDelivery(receiver.port).options, timeoutMs: 300 })
  t.equal(result.outcome, 'failed')
  t.match(result.error, /timeout/)
  t.equal(result.status, undefined)
  t.ok(result.latencyMs >= 290 && result.latencyMs < 2_000, `latency ${result.latencyMs} ms`)
})

t.test('a receiver that answers 200 and then stalls the body is delivered with what arrived by the timeout', async (t) => {
  const receiver = await startReceiver(t, (_request, response) => {
    response.writeHead(200, { 'content-length': '100' })
    response.write('partial')
  })
  const result = await deliverWebhook({ ...signedDelivery(receiver.port).options, timeoutMs: 300 })
  t.match(result, { outcome: 'delivered', status: 200, responseExcerpt: 'partial' })
})

t.test('a 1 MB answer is cut to at most 1024 bytes of excerpt', async (t) => {
  const receiver = await startReceiver(t, (_request, response) => response.writeHead(200).end(Buffer.alloc(1024 * 1024, 'x')))
  const result = await deliverWebhook(signedDelivery(receiver.port).options)
  t.equal(result.outcome, 'delivered')
  t.equal(result.responseExcerpt, 'x'.repeat(1024))
})

t.test('an excerpt cut inside a multi-byte character stays within the byte limit and holds no broken character', async (t) => {
  // 1023 ASCII bytes, then 3-byte characters: the 1024th byte is the first byte of a '€'.
  const receiver = await startReceiver(t, (_request, response) => response.writeHead(200).end('a'.repeat(1023) + '€'.repeat(1000)))
  const result = await deliverWebhook(signedDelivery(receiver.port).options)
  t.equal(result.responseExcerpt, 'a'.repeat(1023))
  t.ok(Buffer.byteLength(result.responseExcerpt ?? '') <= 1024)
})

t.test('maxResponseBytes sets the excerpt size', async (t) => {
  const receiver = await startReceiver(t, (_request, response) => response.writeHead(200).end('0123456789'))
  const result = await deliverWebhook({ ...signedDelivery(receiver.port).options, maxResponseBytes: 4 })
  t.equal(result.responseExcerpt, '0123')
})

t.test('a refused connection is failed with the network error, not thrown', async (t) => {
  const closed = createServer()
  closed.listen(0, '127.0.0.1')
  await once(closed, 'listening')
  const { port } = closed.address() as AddressInfo
  closed.close()
  await once(closed, 'close')
  const result = await deliverWebhook(signedDelivery(port).options)
  t.match(result, { outcome: 'failed', error: /ECONNREFUSED/ })
})

t.test('an IP-literal loopback URL is delivered without calling the resolver', async (t) => {
  const receiver = await startReceiver(t, (_request, response) => response.writeHead(200).end())
  const { options, resolves } = signedDelivery(receiver.port, { url: `http://127.0.0.1:${receiver.port}/hook` })
  t.match(await deliverWebhook(options), { outcome: 'delivered', status: 200 })
  t.same(resolves, [])
})

// macOS only routes 127.0.0.1 unless another loopback alias is added; Linux routes all of 127/8.
const secondLoopbackUsable = await new Promise<boolean>((resolve) => {
  const probe = createServer()
  probe.once('error', () => resolve(false))
  probe.listen(0, '127.0.0.2', () => probe.close(() => resolve(true)))
})

t.test('a second delivery to the same name connects to its own checked address, not a kept-alive socket', {
  skip: secondLoopbackUsable ? false : '127.0.0.2 cannot be bound here (on macOS: sudo ifconfig lo0 alias 127.0.0.2)',
}, async (t) => {
  const keepAlive = (_request: IncomingMessage, response: ServerResponse) => response.writeHead(200, { connection: 'keep-alive' }).end()
  const first = await startReceiver(t, keepAlive)
  // Same port on another loopback address, so only the address tells the two receivers apart.
  const second = await startReceiver(t, keepAlive, { address: '127.0.0.2', port: first.port })
  const answers = ['127.0.0.1', '127.0.0.2']
  const resolve = async () => [{ address: answers.shift()!, family: 4 }]
  t.match(await deliverWebhook({ ...signedDelivery(first.port).options, resolve }), { outcome: 'delivered' })
  t.match(await deliverWebhook({ ...signedDelivery(first.port).options, resolve }), { outcome: 'delivered' })
  t.equal(first.received.length, 1, 'the first receiver got only the first delivery')
  t.equal(second.received.length, 1, 'the second delivery went to the newly resolved address')
})
