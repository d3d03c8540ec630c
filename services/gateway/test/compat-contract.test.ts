import { randomUUID } from 'node:crypto'
import t from 'tap'
import sharp from 'sharp'
import { createTestEnvironment, createTestUser, jpegImage, listObjectKeys, multipartBody, pngClaimingSize, startServices, waitFor, type FilePart } from '@imageapi/testkit'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// The API we replace, as its clients see it: every row of the table in
// shared/reference/seed-observed.md, for users on Basic, Premium, Enterprise, an admin and a tier an
// admin defined. A real worker renders the files and a real links service serves them.
const env = await createTestEnvironment(t)
const [links] = await startServices(t, [{ name: 'links', env: env.env }, { name: 'thumbnail-worker', env: env.env }], { readyTimeoutMs: 60_000 })
let clockShiftMs = 0
const { app } = await buildTestGateway(t, { LINKS_URL: links.url! }, { env, clock: () => Date.now() + clockShiftMs })

// rights as data: 400 px and expiring links, but no 200 px and no original
await env.repos.tiers.create({ name: 'Studio', thumbnailHeights: [400], originalLink: false, expiringLinks: true })
const accounts = {
  basic: await createTestUser(env.repos, 'Basic'),
  premium: await createTestUser(env.repos, 'Premium'),
  enterprise: await createTestUser(env.repos, 'Enterprise'),
  admin: await createTestUser(env.repos, 'Enterprise', { isAdmin: true }),
  studio: await createTestUser(env.repos, 'Studio'),
}
type Who = keyof typeof accounts
const tokens = {} as Record<Who, string>
for (const who of Object.keys(accounts) as Who[]) tokens[who] = (await login(app, accounts[who].email, accounts[who].password)).access

const PERMISSION_DENIED = { detail: 'You do not have permission to perform this action.' }
const UPLOADED = { status: 'Uploaded' }
const REQUIRED = ['This field is required.']
const photo = await jpegImage(320, 240)
const image = (data: Buffer = photo): FilePart => ({ filename: 'photo.jpg', contentType: 'image/jpeg', data })

function upload(route: string, token: string | undefined, fields: Parameters<typeof multipartBody>[0], gateway = app) {
  const { body, headers } = multipartBody(fields)
  return gateway.inject({ method: 'POST', url: `/api/upload/${route}/`, payload: body, headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } })
}

function list(token: string, query = '') {
  return app.inject({ method: 'GET', url: `/api/list/${query}`, headers: { authorization: `Bearer ${token}` } })
}

interface ListEntry {
  title: string
  link: string
  resolution: string
  create_at: string
  expired_at: string | null
}

async function entries(who: Who): Promise<ListEntry[]> {
  return (await list(tokens[who], '?limit=100')).json().results
}

/** Opens a link from the list through the gateway, as their client would. */
function open(link: string) {
  return app.inject({ method: 'GET', url: new URL(link).pathname })
}

t.test('tokens: JSON or form fields, with their 200, 401 and 400 bodies', async (t) => {
  const { email, password } = accounts.basic
  const json = await app.inject({ method: 'POST', url: '/api/token/', payload: { email, password } })
  t.equal(json.statusCode, 200)
  t.same(Object.keys(json.json()).sort(), ['access', 'refresh'])
  const form = await app.inject({
    method: 'POST',
    url: '/api/token/',
    payload: new URLSearchParams({ email, password }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  t.equal(form.statusCode, 200, form.body)
  t.same(Object.keys(form.json()).sort(), ['access', 'refresh'])

  const noAccount = { detail: 'No active account found with the given credentials' }
  for (const payload of [{ email, password: 'wrong' }, { email: 'nobody@example.com', password }]) {
    const response = await app.inject({ method: 'POST', url: '/api/token/', payload })
    t.equal(response.statusCode, 401)
    t.same(response.json(), noAccount)
  }
  const empty = await app.inject({ method: 'POST', url: '/api/token/', payload: {} })
  t.equal(empty.statusCode, 400)
  t.same(empty.json(), { email: REQUIRED, password: REQUIRED })

  const refreshed = await app.inject({
    method: 'POST',
    url: '/api/token/refresh/',
    payload: `refresh=${form.json().refresh}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  t.equal(refreshed.statusCode, 200)
  const bad = await app.inject({ method: 'POST', url: '/api/token/refresh/', payload: { refresh: 'not-a-token' } })
  t.equal(bad.statusCode, 401)
  t.same(bad.json(), { detail: 'Token is invalid or expired', code: 'token_not_valid' })
})

t.test('no token, a bad token: 401 with their bodies and WWW-Authenticate', async (t) => {
  for (const request of [
    () => upload('small', undefined, { title: 'x', image: image() }),
    () => app.inject({ method: 'GET', url: '/api/list/' }),
  ]) {
    const response = await request()
    t.equal(response.statusCode, 401)
    t.same(response.json(), { detail: 'Authentication credentials were not provided.' })
    t.equal(response.headers['www-authenticate'], 'Bearer realm="api"')
  }
  const invalid = await upload('small', 'garbage', { title: 'x', image: image() })
  t.equal(invalid.statusCode, 401)
  t.match(invalid.json(), { detail: 'Given token not valid for any token type', code: 'token_not_valid', messages: Array })
})

t.test('who may use which upload route: the tier’s rights, not its name', async (t) => {
  const allowed: Record<string, Who[]> = {
    small: ['basic', 'premium', 'enterprise', 'admin'],
    medium: ['premium', 'enterprise', 'admin', 'studio'],
    orginal: ['premium', 'enterprise', 'admin'],
    original: ['premium', 'enterprise', 'admin'],
    custom: ['admin'],
  }
  for (const [route, who] of Object.entries(allowed)) {
    for (const user of Object.keys(accounts) as Who[]) {
      const fields = { title: `${route} by ${user}`, image: image(), ...(route === 'custom' ? { height: '100', width: '100' } : {}) }
      const response = await upload(route, tokens[user], fields)
      const expected = who.includes(user) ? { status: 201, body: UPLOADED } : { status: 403, body: PERMISSION_DENIED }
      t.equal(response.statusCode, expected.status, `${user} on /${route}/: ${response.body}`)
      t.same(response.json(), expected.body)
    }
  }
  const forbiddenFirst = await upload('medium', tokens.basic, {})
  t.equal(forbiddenFirst.statusCode, 403, 'the permission is checked before the form, as there')
})

t.test('a form sent as JSON or urlencoded fields cannot carry a file, as DRF says', async (t) => {
  const auth = { authorization: `Bearer ${tokens.basic}` }
  const json = await app.inject({ method: 'POST', url: '/api/upload/small/', payload: { title: 'x', image: 'photo.jpg' }, headers: auth })
  t.equal(json.statusCode, 400)
  t.same(json.json(), { image: ['The submitted data was not a file. Check the encoding type on the form.'] })
  const form = await app.inject({ method: 'POST', url: '/api/upload/small/', payload: 'title=', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' } })
  t.equal(form.statusCode, 400)
  t.same(form.json(), { title: ['This field may not be blank.'], image: ['No file was submitted.'] })
})

t.test('form errors: field-keyed lists of messages, exactly as there', async (t) => {
  const notAnImage = image(Buffer.from('hello, I am not a picture '.repeat(8)))
  const common: Array<[string, Parameters<typeof multipartBody>[0], object]> = [
    ['no image', { title: 'x' }, { image: ['No file was submitted.'] }],
    ['an empty file part (no file chosen)', { title: 'x', image: { filename: '', data: Buffer.alloc(0) } }, { image: ['No file was submitted.'] }],
    ['no title', { image: image() }, { title: REQUIRED }],
    ['a blank title', { title: '   ', image: image() }, { title: ['This field may not be blank.'] }],
    ['neither', {}, { title: REQUIRED, image: ['No file was submitted.'] }],
    ['not an image', { title: 'x', image: notAnImage }, { image: ['Upload a valid image. The file you uploaded was either not an image or a corrupted image.'] }],
    ['image as a text field', { title: 'x', image: 'photo.jpg' }, { image: ['The submitted data was not a file. Check the encoding type on the form.'] }],
    ['expired_time not an integer', { title: 'x', image: image(), expired_time: 'soon' }, { expired_time: ['A valid integer is required.'] }],
  ]
  const routeOf: Record<Who, string> = { basic: 'small', premium: 'small', enterprise: 'small', admin: 'medium', studio: 'medium' }
  for (const who of Object.keys(accounts) as Who[]) {
    const route = routeOf[who]
    const rangeMessage = `${route === 'small' ? 'Expired_at' : 'Expired_time'} must be number between 300 and 30000`
    const expiring = who === 'enterprise' || who === 'admin' || who === 'studio'
    const noRight = { expired_time: ['You have no permission to use expired_time'] }
    const cases: Array<[string, Parameters<typeof multipartBody>[0], object]> = [
      ...common,
      ['expired_time 299', { title: 'x', image: image(), expired_time: '299' }, expiring ? { expired_time: [rangeMessage] } : noRight],
      ['expired_time 30001', { title: 'x', image: image(), expired_time: '30001' }, expiring ? { expired_time: [rangeMessage] } : noRight],
    ]
    for (const [name, fields, body] of cases) {
      const response = await upload(route, tokens[who], fields)
      t.equal(response.statusCode, 400, `${who} /${route}/ ${name}: ${response.body}`)
      t.same(response.json(), body, `${who} /${route}/ ${name}`)
    }
    const withExpiry = await upload(route, tokens[who], { title: 'x', image: image(), expired_time: '300' })
    t.same([withExpiry.statusCode, withExpiry.json()], expiring ? [201, UPLOADED] : [400, noRight], `${who} /${route}/ expired_time 300`)
    const emptyExpiry = await upload(route, tokens[who], { title: 'x', image: image(), expired_time: '' })
    t.same([emptyExpiry.statusCode, emptyExpiry.json()], [201, UPLOADED], `${who} /${route}/ an empty expired_time is no expiry`)
  }
})

t.test('custom: height and width required, whole, 1–4096, and a box the image can fit in', async (t) => {
  const cases: Array<[Record<string, string>, object]> = [
    [{}, { height: REQUIRED, width: REQUIRED }],
    [{ height: '100' }, { width: REQUIRED }],
    [{ height: 'tall', width: '' }, { height: ['A valid integer is required.'], width: ['A valid integer is required.'] }],
    [{ height: '0', width: '4097' }, { height: ['Ensure this value is greater than or equal to 1.'], width: ['Ensure this value is less than or equal to 4096.'] }],
    [{ height: '-5', width: '100' }, { height: ['Ensure this value is greater than or equal to 1.'] }],
  ]
  for (const [box, body] of cases) {
    const response = await upload('custom', tokens.admin, { title: 'box', image: image(), ...box })
    t.equal(response.statusCode, 400, `${JSON.stringify(box)}: ${response.body}`)
    t.same(response.json(), body)
  }
  // a 400×40 image is 10 px wide at its lowest (1 px high), so a narrower box cannot hold it
  const narrow = await upload('custom', tokens.admin, { title: 'box', image: image(await jpegImage(400, 40)), height: '100', width: '9' })
  t.same([narrow.statusCode, narrow.json()], [
    400,
    { width: ['Ensure this value is greater than or equal to 10 for this image: it is 400×40, so even its 1 px high rendering is 10 px wide and a narrower box cannot hold it.'] },
  ])
})

t.test('the list: one entry per upload, newest first, linking to that file at its real size', async (t) => {
  const lister = await createTestUser(env.repos, 'Premium')
  const token = (await login(app, lister.email, lister.password)).access
  for (const [route, title] of [['small', 's'], ['medium', 'm'], ['orginal', 'o']]) t.equal((await upload(route!, token, { title: title!, image: image() })).statusCode, 201)

  const response = await list(token)
  t.equal(response.statusCode, 200)
  const page = response.json()
  t.same(Object.keys(page), ['count', 'next', 'previous', 'results'])
  t.match(page, { count: 3, next: null, previous: null })
  t.same(page.results.map((e: ListEntry) => [e.title, e.resolution, e.expired_at]), [['o', '320x240', null], ['m', '320x240', null], ['s', '267x200', null]])
  for (const entry of page.results as ListEntry[]) {
    t.same(Object.keys(entry), ['title', 'link', 'resolution', 'create_at', 'expired_at'])
    t.match(entry.link, /^http:\/\/localhost(:\d+)?\/api\/view\/[A-Za-z0-9_.-]{40,}\/$/, 'a signed token, not an id')
    t.notMatch(entry.link, /[0-9a-f]{8}-[0-9a-f]{4}-/, 'no image id in the link')
    t.ok(Number.isFinite(Date.parse(entry.create_at)))
    const file = await open(entry.link)
    t.equal(file.statusCode, 200, `${entry.title}: ${file.body.slice(0, 100)}`)
    t.equal(file.headers['content-type'], 'image/jpeg', 'in the original’s format, not re-encoded as PNG')
    t.match(file.headers['content-disposition'], /^inline/)
    const meta = await sharp(file.rawPayload).metadata()
    t.equal(`${meta.width}x${meta.height}`, entry.resolution, `${entry.title}: the resolution is the file's`)
  }
  t.same((await open(page.results[0].link)).rawPayload, photo, 'the original, byte for byte')

  const first = (await list(token, '?limit=2')).json()
  t.equal(first.results.length, 2)
  t.match(first.next, /^http:\/\/localhost(:\d+)?\/api\/list\/\?limit=2&offset=2$/)
  t.equal(first.previous, null)
  const second = (await list(token, '?limit=2&offset=2')).json()
  t.same(second.results.map((e: ListEntry) => e.title), ['s'])
  t.equal(second.next, null)
  t.match(second.previous, /^http:\/\/localhost(:\d+)?\/api\/list\/\?limit=2$/, 'offset dropped when it would be 0, as in DRF')
  t.equal((await list(token, '?limit=nonsense&offset=-1')).json().results.length, 3, 'bad values fall back to the defaults, as in DRF')
  const other = await createTestUser(env.repos, 'Premium')
  t.equal((await list((await login(app, other.email, other.password)).access)).json().count, 0, 'only your own uploads')
})

t.test('list: limit is capped at 100, with 101 uploads to list', async (t) => {
  // 101 compat uploads as the upload route records them (image row and compat record, in one
  // transaction), written through the repository rather than sent as 101 HTTP uploads; a tier with
  // no heights, so no thumbnail is owed and nothing is left for the worker
  const bare = await env.repos.tiers.create({ name: 'Bulk', thumbnailHeights: [], originalLink: true, expiringLinks: false })
  const many = await createTestUser(env.repos, bare.name)
  const token = (await login(app, many.email, many.password)).access
  const UPLOADS = 101
  for (let i = 0; i < UPLOADS; i++) {
    const id = randomUUID()
    await env.repos.compatUploads.create({
      image: { id, owner_id: many.user.id, title: `bulk ${i}`, format: 'jpeg', width: 320, height: 240, bytes: photo.length, original_key: `originals/${id}.jpg` },
      variant: 'original',
    })
  }
  const capped = await list(token, '?limit=1000')
  t.equal(capped.statusCode, 200)
  const page = capped.json()
  t.equal(page.count, UPLOADS, `${UPLOADS} uploads counted`)
  t.equal(page.results.length, 100, 'limit=1000 gives 100 entries')
  t.same(page.results.map((e: ListEntry) => e.title), Array.from({ length: 100 }, (_, i) => `bulk ${UPLOADS - 1 - i}`), 'the newest 100, newest first')
  t.match(page.next, /^http:\/\/localhost(:\d+)?\/api\/list\/\?limit=100&offset=100$/, 'next: the rest, at the capped limit')
  t.equal(page.previous, null)
  const rest = (await list(token, '?limit=1000&offset=100')).json()
  t.same(rest.results.map((e: ListEntry) => e.title), ['bulk 0'], 'the 101st on the next page')
  t.equal(rest.next, null)
  t.equal((await list(token, '?limit=100')).json().results.length, 100, 'limit=100 itself is allowed')
})

t.test('custom: a rendition that fits inside the box, served whatever the tier’s heights', async (t) => {
  t.equal((await upload('custom', tokens.admin, { title: 'square box', image: image(), height: '100', width: '100' })).statusCode, 201)
  t.equal((await upload('custom', tokens.admin, { title: 'wide box', image: image(), height: '50', width: '4000' })).statusCode, 201)
  const [wide, square] = await entries('admin')
  t.same([square!.title, square!.resolution, wide!.title, wide!.resolution], ['square box', '100x75', 'wide box', '67x50'])
  for (const entry of [square!, wide!]) {
    const file = await open(entry.link)
    t.equal(file.statusCode, 200)
    const meta = await sharp(file.rawPayload).metadata()
    t.equal(`${meta.width}x${meta.height}`, entry.resolution)
  }
})

t.test('custom: the rendition is the largest the box holds, 77×58 for an 800×600 image in 77 × 123', async (t) => {
  t.equal((await upload('custom', tokens.admin, { title: '77 by 123', image: image(await jpegImage(800, 600)), height: '123', width: '77' })).statusCode, 201)
  const [entry] = await entries('admin')
  t.same([entry!.title, entry!.resolution], ['77 by 123', '77x58'])
  const meta = await sharp((await open(entry!.link)).rawPayload).metadata()
  t.equal(`${meta.width}x${meta.height}`, '77x58', 'the file the worker made')
})

t.test('expired_time: an expiring link; after expiry 403 with their body; unknown links 404', async (t) => {
  t.equal((await upload('small', tokens.enterprise, { title: 'live', image: image(), expired_time: '300' })).statusCode, 201)
  const [live] = await entries('enterprise')
  t.equal(live!.title, 'live')
  t.ok(Math.abs(Date.parse(live!.expired_at!) - (Date.now() + 300_000)) < 5_000, 'expired_at is the link’s expiry')
  const opened = await open(live!.link)
  t.equal(opened.statusCode, 200)
  t.match(opened.headers['cache-control'], /private, max-age=\d+/)

  // uploaded 400 s ago (by the gateway's clock) with 300 s to live: expired for the links service now
  clockShiftMs = -400_000
  t.teardown(() => void (clockShiftMs = 0))
  t.equal((await upload('small', tokens.enterprise, { title: 'expired', image: image(), expired_time: '300' })).statusCode, 201)
  clockShiftMs = 0
  const [expired] = await entries('enterprise')
  t.equal(expired!.title, 'expired', 'expired entries stay listed')
  t.ok(Date.parse(expired!.expired_at!) < Date.now())
  const response = await open(expired!.link)
  t.equal(response.statusCode, 403)
  t.same(response.json(), { error: ['Sorry, the link is expired'] })

  // a forged MAC: its first character changed (the last ones may carry padding bits, or already be what a forger writes)
  const token = new URL(live!.link).pathname.split('/')[3]!
  const macStart = token.lastIndexOf('.') + 1
  const forged = `${token.slice(0, macStart)}${token[macStart] === 'A' ? 'B' : 'A'}${token.slice(macStart + 1)}`
  for (const path of ['/api/view/not-a-token/', `/api/view/${forged}/`]) {
    const unknown = await app.inject({ method: 'GET', url: path })
    t.equal(unknown.statusCode, 404, path)
    t.same(unknown.json(), { detail: 'Not found.' })
  }
})

t.test('past the wait: 503 saying it is still processing; the work completes and the entry’s link opens', async (t) => {
  const impatient = await buildTestGateway(t, { LINKS_URL: links.url!, COMPAT_UPLOAD_WAIT_MS: '0' }, { env })
  const response = await upload('medium', tokens.premium, { title: 'slow', image: image(await jpegImage(1600, 1200)) }, impatient.app)
  t.equal(response.statusCode, 503)
  t.match(response.json(), { detail: /still being processed/ })
  t.ok(response.headers['retry-after'])
  const [entry] = await entries('premium')
  t.equal(entry!.title, 'slow', 'listed at once')
  await waitFor(async () => (await open(entry!.link)).statusCode === 200, { timeoutMs: 30_000, what: 'the 400 px thumbnail' })
})

t.test('an upload the worker cannot decode is refused, and leaves no object or row behind', async (t) => {
  const imagesBefore = await env.database.db.selectFrom('images').select('id').execute()
  const objectsBefore = await listObjectKeys(env.storage)
  // a header that passes the probe, with no pixel data behind it
  const response = await upload('small', tokens.basic, { title: 'broken', image: { filename: 'b.png', data: pngClaimingSize(64, 48) } })
  t.equal(response.statusCode, 400)
  t.match(response.json(), { image: [/could not be processed/] })
  t.equal((await env.database.db.selectFrom('images').select('id').execute()).length, imagesBefore.length)
  const leftover = (await listObjectKeys(env.storage)).filter((key) => !objectsBefore.includes(key))
  t.same(leftover, [])
  t.notOk((await entries('basic')).some((e) => e.title === 'broken'))
})

t.test('docs: the compat routes under a `compat` tag, deprecated, pointing at the native routes', async (t) => {
  t.equal((await app.inject({ method: 'GET', url: '/docs/' })).statusCode, 200)
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  const tag = doc.tags.find((x: { name: string }) => x.name === 'compat')
  t.match(tag?.description, /Deprecated.*images and links routes/)
  const operations = [
    ...['small', 'medium', 'orginal', 'original', 'custom'].map((route) => doc.paths[`/api/upload/${route}/`]?.post),
    doc.paths['/api/list/']?.get,
    doc.paths['/api/view/{*}']?.get,
  ]
  for (const operation of operations) {
    t.same(operation?.tags, ['compat'])
    t.equal(operation?.deprecated, true)
    t.match(operation?.description, /Legacy.*native routes/)
  }
  t.ok(doc.paths['/api/upload/custom/'].post.requestBody.content['multipart/form-data'].schema.properties.width)
  const schema = await app.inject({ method: 'GET', url: '/api/api_schema/' })
  t.equal(schema.statusCode, 200, 'where that API served its schema')
  t.same(schema.json().paths['/api/list/'], doc.paths['/api/list/'])
})
