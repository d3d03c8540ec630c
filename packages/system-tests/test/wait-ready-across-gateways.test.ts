import t from 'tap'
import { createTestEnvironment, createTestUser, jpegImage, startService } from '@imageapi/testkit'

// GET /api/images/{id}?wait=ready across gateway processes: an image uploaded through one gateway is
// waited on through another, which is woken by the thumbnail queue's events (read from Redis by every
// gateway), not by its own polling; and a wait on work nobody does ends at its timeout.
const env = await createTestEnvironment(t)
const [first, second] = [await startService(t, 'gateway', env.env), await startService(t, 'gateway', env.env)]
const owner = await createTestUser(env.repos, 'Premium') // thumbnails 200 and 400 px high
const signedIn = await fetch(`${first!.url}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: owner.email, password: owner.password }) })
const { access } = (await signedIn.json()) as { access: string }
const auth = { authorization: `Bearer ${access}` }

interface Shown {
  id: string
  thumbnails: Array<{ height: number; status: string; url: string | null }>
}

async function upload(gatewayUrl: string, title: string): Promise<Shown> {
  const form = new FormData()
  form.set('title', title)
  form.set('image', new Blob([await jpegImage(1200, 900)]), 'photo.jpg')
  const response = await fetch(`${gatewayUrl}/api/images`, { method: 'POST', headers: auth, body: form })
  if (response.status !== 201) throw new Error(`upload: ${response.status} ${await response.text()}`)
  return (await response.json()) as Shown
}

async function waitReady(gatewayUrl: string, id: string, timeout: number): Promise<{ status: number; body: Shown; ms: number }> {
  const started = Date.now()
  const response = await fetch(`${gatewayUrl}/api/images/${id}?wait=ready&timeout=${timeout}`, { headers: auth })
  return { status: response.status, body: (await response.json()) as Shown, ms: Date.now() - started }
}

const statuses = (image: Shown) => image.thumbnails.map((thumbnail) => [thumbnail.height, thumbnail.status])

t.test('no worker yet: a wait through the second gateway ends at its timeout with the thumbnails pending', async (t) => {
  const image = await upload(first!.url!, 'nobody renders me yet')
  const { status, body, ms } = await waitReady(second!.url!, image.id, 2)
  t.equal(status, 200)
  t.ok(ms >= 1_900, `waited ${ms} ms`)
  t.ok(ms < 6_000, `and not much longer (${ms} ms)`)
  t.same(statuses(body), [[200, 'pending'], [400, 'pending']])
})

t.test('uploaded through the first gateway, waited on through the second: answered as soon as the worker has made the thumbnails', async (t) => {
  const image = await upload(first!.url!, 'across')
  t.same(statuses(image), [[200, 'pending'], [400, 'pending']])
  const waiting = waitReady(second!.url!, image.id, 30)
  // the worker starts only once the wait is under way: the job's events, seen by the second gateway, end it
  await new Promise((resolve) => setTimeout(resolve, 500))
  await startService(t, 'thumbnail-worker', env.env)
  const { status, body, ms } = await waiting
  t.equal(status, 200)
  t.same(statuses(body), [[200, 'ready'], [400, 'ready']], 'every thumbnail ready')
  t.ok(body.thumbnails.every((thumbnail) => thumbnail.url), 'each with its link')
  t.ok(ms < 25_000, `answered in ${ms} ms, well before the 30 s timeout`)
  const plain = await fetch(`${first!.url}/api/images/${image.id}`, { headers: auth })
  t.same(statuses((await plain.json()) as Shown), statuses(body), 'the first gateway sees the same')

  // with the worker running: a fresh upload through the second gateway, waited on through the first
  const fresh = await upload(second!.url!, 'fresh')
  const waited = await waitReady(first!.url!, fresh.id, 20)
  t.same(statuses(waited.body), [[200, 'ready'], [400, 'ready']])
  t.ok(waited.ms < 15_000, `answered in ${waited.ms} ms`)
})
