import t from 'tap'
import { createTestUser, jpegImage, multipartBody } from '@imageapi/testkit'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// Issue 18, item 5: live expiring links per image are capped (LINK_MAX_LIVE_PER_IMAGE; one more
// answers 409 saying the cap and how to free one), and GET /api/images/{id}/links is paginated
// like /api/images (limit 1..100, default 20; cursor → next_cursor).

const CAP = 5
let now = Date.parse('2031-03-01T00:00:00Z')
const { app, env } = await buildTestGateway(t, { LINK_MAX_LIVE_PER_IMAGE: String(CAP) }, { clock: () => now })
const user = await createTestUser(env.repos, 'Enterprise')
const token = (await login(app, user.email, user.password)).access
const auth = { authorization: `Bearer ${token}` }

async function upload(): Promise<string> {
  const { body, headers } = multipartBody({ image: { filename: 'x.jpg', data: await jpegImage(40, 30) } })
  const response = await app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, ...auth } })
  if (response.statusCode !== 201) throw new Error(response.body)
  return response.json().id
}
const create = (imageId: string, seconds = 300) =>
  app.inject({ method: 'POST', url: `/api/images/${imageId}/links`, payload: { seconds, variant: 'original' }, headers: auth })
const list = (imageId: string, query = '') => app.inject({ method: 'GET', url: `/api/images/${imageId}/links${query}`, headers: auth })

t.test(`the cap: ${CAP} live links per image, the next one 409 naming the cap and how to free one`, async (t) => {
  const imageId = await upload()
  const created: string[] = []
  for (let i = 0; i < CAP; i++) {
    const response = await create(imageId)
    t.equal(response.statusCode, 201, `link ${i + 1}`)
    created.push(response.json().id)
  }
  const refused = await create(imageId)
  t.equal(refused.statusCode, 409, 'one more than the cap: 409')
  const message = refused.json().message as string
  t.match(message, new RegExp(`\\b${CAP}\\b`), 'the message says the cap')
  t.match(message, /revoke/i, 'and how to free one: revoke')
  t.match(message, '/api/links/', 'naming the revoke route')
  t.equal((await list(imageId)).json().items.length, CAP, 'nothing was written by the refused request')

  const other = await upload()
  t.equal((await create(other)).statusCode, 201, 'the cap is per image: another image of the same user still gets links')

  t.equal((await app.inject({ method: 'DELETE', url: `/api/links/${created[0]}`, headers: auth })).statusCode, 204, 'revoking one')
  t.equal((await create(imageId)).statusCode, 201, 'frees a place')
  t.equal((await create(imageId)).statusCode, 409, 'and only one')
})

t.test('expired links do not count against the cap', async (t) => {
  const imageId = await upload()
  for (let i = 0; i < CAP; i++) t.equal((await create(imageId, 300)).statusCode, 201)
  t.equal((await create(imageId, 300)).statusCode, 409)
  now += 301_000
  t.equal((await create(imageId, 300)).statusCode, 201, 'once they expired, a new one is created')
})

t.test('concurrent creations cannot pass the cap together', async (t) => {
  const imageId = await upload()
  const answers = await Promise.all(Array.from({ length: 3 * CAP }, () => create(imageId)))
  const statuses = answers.map((answer) => answer.statusCode)
  t.equal(statuses.filter((s) => s === 201).length, CAP, `${CAP} created`)
  t.equal(statuses.filter((s) => s === 409).length, 2 * CAP, 'the rest refused with 409')
  const live = await env.database.db
    .selectFrom('links')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('image_id', '=', imageId)
    .executeTakeFirstOrThrow()
  t.equal(Number(live.n), CAP, `exactly ${CAP} rows in the database`)
})

t.test('the list is paginated: pages chain through next_cursor, newest first, no duplicates and nothing missed', async (t) => {
  const imageId = await upload()
  // more links than a page, written past the API's cap; a third of them share one created_at, so
  // the position's tie-breaker (the id) is exercised too, and the microseconds matter
  const rows = 47
  // (timestamps as text: Postgres keeps their microseconds, a JavaScript Date would not)
  const second = new Date(now - 60_000).toISOString().slice(0, 19)
  for (let i = 0; i < rows; i++) {
    const createdAt = i % 3 === 0 ? `${second}.123456Z` : `${second}.${String(123000 + i).padStart(6, '0')}Z`
    await env.database.db
      .insertInto('links')
      .values({ image_id: imageId, variant: 'original', expires_at: new Date(now + 3_600_000), created_at: createdAt })
      .execute()
  }
  // and some that are not listed: revoked and expired
  await env.database.db.insertInto('links').values({ image_id: imageId, variant: 'original', expires_at: new Date(now + 3_600_000), revoked_at: new Date(now) }).execute()
  await env.database.db.insertInto('links').values({ image_id: imageId, variant: 'original', expires_at: new Date(now - 1_000) }).execute()

  const expected = await env.database.db
    .selectFrom('links')
    .select(['id'])
    .where('image_id', '=', imageId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', new Date(now))
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute()
  t.equal(expected.length, rows)

  const first = await list(imageId)
  t.equal(first.statusCode, 200)
  t.equal(first.json().items.length, 20, 'default limit: 20')
  t.type(first.json().next_cursor, 'string')

  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const response = await list(imageId, `?limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    t.equal(response.statusCode, 200, response.body)
    const page = response.json() as { items: Array<{ id: string; url: string }>; next_cursor: string | null }
    t.ok(page.items.length <= 7)
    seen.push(...page.items.map((item) => item.id))
    cursor = page.next_cursor
    pages++
  } while (cursor && pages < 20)
  t.equal(pages, Math.ceil(rows / 7), 'as many pages as it takes, then next_cursor null')
  t.equal(new Set(seen).size, seen.length, 'no link twice')
  t.same(seen, expected.map((row) => row.id), 'every live link once, newest first')

  const exact = await list(imageId, `?limit=${rows}`)
  t.equal(exact.json().items.length, rows)
  t.equal(exact.json().next_cursor, null, 'a page that ends exactly at the last link has no next one')
})

t.test('limit and cursor are checked', async (t) => {
  const imageId = await upload()
  for (const query of ['?limit=0', '?limit=101', '?limit=x']) {
    const response = await list(imageId, query)
    t.equal(response.statusCode, 400, query)
  }
  t.equal((await list(imageId, '?limit=100')).statusCode, 200)
  for (const cursor of ['nope', Buffer.from('s:12').toString('base64url'), Buffer.from('l:not-a-uuid').toString('base64url')]) {
    const response = await list(imageId, `?cursor=${cursor}`)
    t.equal(response.statusCode, 400, cursor)
    t.equal(response.json().field, 'cursor')
  }
  // a cursor of another image's link gives nothing of that image
  const other = await upload()
  const link = (await create(other)).json().id as string
  const foreign = await list(imageId, `?cursor=${Buffer.from(`l:${link}`).toString('base64url')}`)
  t.equal(foreign.statusCode, 200)
  t.same(foreign.json(), { items: [], next_cursor: null })
})
