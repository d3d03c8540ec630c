import t, { type Test } from 'tap'
import { request as httpRequest } from 'node:http'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { createTestEnvironment, createTestUser, jpegImage, multipartBody } from '@imageapi/testkit'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// Issue 18, item 3: the URLs in answers come from PUBLIC_URL or the address the gateway listens
// on, never from the request. A forged Host (or X-Forwarded-Host/Proto, trusted proxy or not)
// must not reach any URL of any answer: upload, listing, image, expiring links, compat upload and list.

const env = await createTestEnvironment(t)
const photo = await jpegImage(64, 48)

const FORGED = {
  host: 'evil.example/x?',
  'x-forwarded-host': 'evil-forwarded.example',
  'x-forwarded-proto': 'gopher',
  forwarded: 'host=evil-forwarded2.example;proto=https',
}

/** Every absolute URL in an answer's body or headers. */
function urlsIn(text: string): string[] {
  return text.match(/[a-z][a-z0-9+.-]*:\/\/[^"\s,]+/gi) ?? []
}

type Send = (options: { method: string; url: string; headers?: Record<string, string>; payload?: Buffer | object }) => Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>

/** Goes through every answer that carries URLs, with forged headers, and checks where they point. */
async function checkAnswers(t: Test, app: FastifyInstance, send: Send, expectedBase: string): Promise<void> {
  const user = await createTestUser(env.repos, 'Enterprise')
  const token = (await login(app, user.email, user.password)).access
  const headers = { ...FORGED, authorization: `Bearer ${token}` }
  const answers: Array<[string, { statusCode: number; body: string; headers: Record<string, unknown> }]> = []
  const call = async (what: string, options: Parameters<Send>[0], status: number) => {
    const response = await send(options)
    t.equal(response.statusCode, status, `${what}: ${response.statusCode} ${response.body.slice(0, 200)}`)
    answers.push([what, response])
    return response
  }

  const upload = multipartBody({ image: { filename: 'photo.jpg', data: photo } })
  const uploaded = await call('upload', { method: 'POST', url: '/api/images', payload: upload.body, headers: { ...headers, ...upload.headers } }, 201)
  const imageId = JSON.parse(uploaded.body).id as string
  await call('listing', { method: 'GET', url: '/api/images?limit=1', headers }, 200)
  await call('image', { method: 'GET', url: `/api/images/${imageId}`, headers }, 200)
  await call('expiring link', { method: 'POST', url: `/api/images/${imageId}/links`, payload: { seconds: 300, variant: 'original' }, headers }, 201)
  await call('expiring links', { method: 'GET', url: `/api/images/${imageId}/links`, headers }, 200)
  for (const title of ['first', 'second']) {
    const compat = multipartBody({ title, image: { filename: 'photo.jpg', data: photo } })
    await call(`compat upload ${title}`, { method: 'POST', url: '/api/upload/original/', payload: compat.body, headers: { ...headers, ...compat.headers } }, 201)
  }
  const firstPage = await call('compat list, first page', { method: 'GET', url: '/api/list/?limit=1', headers }, 200)
  t.ok(JSON.parse(firstPage.body).next, 'the compat list has a next page link')
  const secondPage = await call('compat list, second page', { method: 'GET', url: '/api/list/?limit=1&offset=1', headers }, 200)
  t.ok(JSON.parse(secondPage.body).previous, 'and a previous page link')

  let urls = 0
  for (const [what, response] of answers) {
    const text = `${response.body} ${JSON.stringify(response.headers)}`
    t.notMatch(text, /evil/, `${what}: nothing of the forged headers`)
    t.notMatch(text, /gopher/, `${what}: nor the forged protocol`)
    for (const url of urlsIn(response.body)) {
      urls++
      t.ok(url.startsWith(`${expectedBase}/`), `${what}: ${url} is on ${expectedBase}`)
    }
  }
  t.ok(urls >= 8, `URLs were checked (${urls})`)
}

function injector(app: FastifyInstance): Send {
  return async (options) => {
    const response = await app.inject(options as InjectOptions)
    return { statusCode: response.statusCode, body: response.body, headers: response.headers }
  }
}

t.test('in process (inject), no PUBLIC_URL: URLs on the fixed in-process address, whatever Host and X-Forwarded-* say', async (t) => {
  const { app } = await buildTestGateway(t, {}, { env })
  await checkAnswers(t, app, injector(app), 'http://localhost:80')
})

t.test('TRUST_PROXY=true does not make X-Forwarded-Host or -Proto a source of URLs', async (t) => {
  const { app } = await buildTestGateway(t, { TRUST_PROXY: 'true' }, { env })
  await checkAnswers(t, app, injector(app), 'http://localhost:80')
})

t.test('with PUBLIC_URL: every URL starts with it (trailing slash trimmed)', async (t) => {
  const { app } = await buildTestGateway(t, { PUBLIC_URL: 'https://img.example.com/base/', TRUST_PROXY: 'true' }, { env })
  await checkAnswers(t, app, injector(app), 'https://img.example.com/base')
})

t.test('listening, no PUBLIC_URL: URLs on the address the server actually listens on, not the Host sent over the wire', async (t) => {
  const { app } = await buildTestGateway(t, {}, { env })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (!address || typeof address !== 'object') throw new Error('not listening')
  const send: Send = (options) =>
    new Promise((resolve, reject) => {
      const payload = options.payload === undefined ? undefined : Buffer.isBuffer(options.payload) ? options.payload : Buffer.from(JSON.stringify(options.payload))
      const headers: Record<string, string> = { ...options.headers }
      if (payload && !Buffer.isBuffer(options.payload)) headers['content-type'] = 'application/json'
      if (payload) headers['content-length'] = String(payload.length)
      // node:http sends the Host header as given: the forged one goes over the wire
      const request = httpRequest({ host: '127.0.0.1', port: address.port, method: options.method, path: options.url, headers, setHost: false }, (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () => resolve({ statusCode: response.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: response.headers }))
        response.on('error', reject)
      })
      request.on('error', reject)
      request.end(payload)
    })
  await checkAnswers(t, app, send, `http://127.0.0.1:${address.port}`)
})
