import t from 'tap'
import { createTestUser, jpegImage, listObjectKeys, multipartBody } from '@imageapi/testkit'
import { buildTestGateway, login } from './helpers/build-test-app.js'

const { app, env } = await buildTestGateway(t)
const owner = await createTestUser(env.repos, 'Premium')
const stranger = await createTestUser(env.repos, 'Premium')
const ownerToken = (await login(app, owner.email, owner.password)).access
const strangerToken = (await login(app, stranger.email, stranger.password)).access
const auth = (token: string) => ({ authorization: `Bearer ${token}` })

async function upload(token: string, title: string): Promise<{ id: string }> {
  const { body, headers } = multipartBody({ title, image: { filename: 'x.jpg', data: await jpegImage(120, 90) } })
  const response = await app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, ...auth(token) } })
  if (response.statusCode !== 201) throw new Error(response.body)
  return response.json()
}

const uploaded: Array<{ id: string }> = []
for (let i = 0; i < 7; i++) uploaded.push(await upload(ownerToken, `image ${i}`))
const strangersImage = await upload(strangerToken, 'not yours')

t.test('listing pages through your own images, newest first, with keyset cursors', async (t) => {
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const url: string = `/api/images?limit=3${cursor ? `&cursor=${cursor}` : ''}`
    const response = await app.inject({ method: 'GET', url, headers: auth(ownerToken) })
    t.equal(response.statusCode, 200)
    const body = response.json()
    t.ok(body.items.length <= 3)
    seen.push(...body.items.map((item: { id: string }) => item.id))
    cursor = body.next_cursor
    pages++
  } while (cursor && pages < 10)
  t.equal(pages, 3)
  t.same(seen, uploaded.map((u) => u.id).reverse(), 'every image once, newest first, none of the stranger’s')
})

t.test('listing defaults to 20 and validates limit and cursor', async (t) => {
  const all = await app.inject({ method: 'GET', url: '/api/images', headers: auth(ownerToken) })
  t.equal(all.json().items.length, 7)
  t.equal(all.json().next_cursor, null)
  for (const [query, field] of [['limit=0', 'limit'], ['limit=101', 'limit'], ['limit=abc', 'limit'], ['cursor=bm9wZQ', 'cursor']] as const) {
    const response = await app.inject({ method: 'GET', url: `/api/images?${query}`, headers: auth(ownerToken) })
    t.equal(response.statusCode, 400, query)
    t.equal(response.json().field, field, `${query} names ${field}`)
  }
})

t.test('one image: yours → 200 with links; someone else’s or unknown → the same 404', async (t) => {
  const mine = await app.inject({ method: 'GET', url: `/api/images/${uploaded[0]!.id}`, headers: auth(ownerToken) })
  t.equal(mine.statusCode, 200)
  t.equal(mine.json().title, 'image 0')
  t.ok(mine.json().original.url)
  const theirs = await app.inject({ method: 'GET', url: `/api/images/${strangersImage.id}`, headers: auth(ownerToken) })
  const unknown = await app.inject({ method: 'GET', url: '/api/images/00000000-0000-4000-8000-000000000000', headers: auth(ownerToken) })
  const notAnId = await app.inject({ method: 'GET', url: '/api/images/not-an-id', headers: auth(ownerToken) })
  t.equal(theirs.statusCode, 404)
  t.same(theirs.json(), unknown.json(), 'no difference that reveals existence')
  t.same(notAnId.json(), unknown.json())
})

t.test('delete: someone else’s → 404 and untouched; yours → 204, rows and objects gone', async (t) => {
  const target = uploaded[1]!
  const denied = await app.inject({ method: 'DELETE', url: `/api/images/${strangersImage.id}`, headers: auth(ownerToken) })
  t.equal(denied.statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: `/api/images/${strangersImage.id}`, headers: auth(strangerToken) })).statusCode, 200)

  t.ok((await listObjectKeys(env.storage)).some((key) => key.includes(target.id)))
  const deleted = await app.inject({ method: 'DELETE', url: `/api/images/${target.id}`, headers: auth(ownerToken) })
  t.equal(deleted.statusCode, 204)
  t.equal(deleted.body, '')
  t.notOk((await listObjectKeys(env.storage)).some((key) => key.includes(target.id)), 'objects removed')
  t.equal((await app.inject({ method: 'GET', url: `/api/images/${target.id}`, headers: auth(ownerToken) })).statusCode, 404)
  t.equal((await app.inject({ method: 'DELETE', url: `/api/images/${target.id}`, headers: auth(ownerToken) })).statusCode, 404)
  t.same(await env.repos.objectDeletions.listOlderThan(new Date(Date.now() + 60_000), 10), [], 'no deletion left for the sweeper')
})

t.test('a request id is accepted from the caller or generated, and returned', async (t) => {
  const given = await app.inject({ method: 'GET', url: '/api/images', headers: { ...auth(ownerToken), 'x-request-id': 'caller-id-123' } })
  t.equal(given.headers['x-request-id'], 'caller-id-123')
  const generated = await app.inject({ method: 'GET', url: '/api/images', headers: auth(ownerToken) })
  t.match(generated.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  const hostile = await app.inject({ method: 'GET', url: '/api/images', headers: { ...auth(ownerToken), 'x-request-id': 'bad id\u0001'.repeat(3) } })
  t.not(hostile.headers['x-request-id'], 'bad id\u0001'.repeat(3))
})
