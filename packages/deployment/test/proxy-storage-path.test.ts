import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:net'
import { createTestEnvironment, createTestUser, ensureNginxInstalled, freePort, jpegImage, NGINX_BINARY, startService, waitFor } from '@imageapi/testkit'
import { readProxyConfig } from './helpers/proxy.js'

// Compose's proxy (deploy/nginx/nginx.conf, as shipped) in front of a gateway process and the run's
// S3 store, standing in for MinIO: a direct upload from "the host" goes through the proxy's one
// published port, its presigned PUT to storage included, and nothing but such PUTs reaches storage.
ensureNginxInstalled()
const env = await createTestEnvironment(t)
const [proxyPort, linksPort] = [await freePort(), await freePort()]
const proxy = `http://127.0.0.1:${proxyPort}`
const gateway = await startService(t, 'gateway', { ...env.env, PUBLIC_URL: proxy, S3_PUBLIC_ENDPOINT: proxy })
const store = new URL(env.env.S3_ENDPOINT!)

// the shipped file with compose's service names and ports made this machine's
const config = readProxyConfig()
  .replace(/^\s*resolver .*$/m, '')
  .replace('listen 80;', `listen 127.0.0.1:${proxyPort};`)
  .replace('listen 8001;', `listen 127.0.0.1:${linksPort};`)
  .replaceAll('gateway:8000', new URL(gateway.url!).host)
  .replaceAll('minio:9000', store.host)
  .replaceAll('links:8001', '127.0.0.1:9')
  .replace('access_log /dev/stdout upstreams;', 'access_log access.log upstreams;')
  .replace('error_log stderr warn;', 'error_log error.log warn;')
const dir = mkdtempSync(join(tmpdir(), 'imageapi-proxy-storage-'))
writeFileSync(join(dir, 'nginx.conf'), config)
const nginx = spawn(NGINX_BINARY, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`], { stdio: 'ignore' })
t.teardown(async () => {
  nginx.kill('SIGQUIT')
  await new Promise((resolve) => (nginx.exitCode === null ? nginx.once('exit', resolve) : resolve(undefined)))
  rmSync(dir, { recursive: true, force: true })
})
await waitFor(
  () =>
    new Promise<boolean>((resolve) => {
      const socket = connect(proxyPort, '127.0.0.1', () => (socket.end(), resolve(true)))
      socket.on('error', () => resolve(false))
    }),
  { what: 'nginx to listen' },
)

t.test('a direct upload through the proxy alone: the presigned PUT goes to storage through it, and completing makes the image', async (t) => {
  const user = await createTestUser(env.repos, 'Basic')
  const signedIn = await fetch(`${proxy}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: user.email, password: user.password }) })
  const { access } = (await signedIn.json()) as { access: string }
  const photo = await jpegImage(640, 480)
  const started = await fetch(`${proxy}/api/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${access}`, 'content-type': 'application/json' },
    body: JSON.stringify({ bytes: photo.length, content_type: 'image/jpeg' }),
  })
  const upload = (await started.json()) as { id: string; upload: { method: string; url: string; headers: Record<string, string> } }
  t.equal(started.status, 201)
  t.equal(new URL(upload.upload.url).origin, proxy, 'the upload URL is on the proxy\'s published address')
  const sent = await fetch(upload.upload.url, { method: 'PUT', headers: upload.upload.headers, body: photo })
  t.equal(sent.status, 200, 'storage took the file through the proxy')

  const read = await fetch(upload.upload.url)
  t.equal(read.status, 403, 'a GET on the same path is refused by the proxy (PUT only)')
  const other = new URL(upload.upload.url)
  other.pathname = other.pathname.replace(/uploads\/direct\/.*$/, `originals/${upload.id}.jpg`)
  const elsewhere = await fetch(other, { method: 'PUT', headers: upload.upload.headers, body: photo })
  t.not(elsewhere.status, 200, `a PUT outside uploads/direct/ does not reach storage (${elsewhere.status})`)
  t.equal(await env.storage.statObject(`originals/${upload.id}.jpg`), null, 'and wrote nothing there')

  const completed = await fetch(`${proxy}/api/uploads/${upload.id}/complete`, { method: 'POST', headers: { authorization: `Bearer ${access}` } })
  t.equal(completed.status, 201)
  t.ok((await env.storage.getObjectBuffer(`originals/${upload.id}.jpg`)).equals(photo), 'the original is the file, byte for byte')
})
