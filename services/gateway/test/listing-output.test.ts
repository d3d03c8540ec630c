import t from 'tap'
import { randomUUID } from 'node:crypto'
import { createTestUser } from '@imageapi/testkit'
import { createLinkSigner, generateSigningKey, parseSigningKeys, type LinkSigner } from '@imageapi/link-tokens'
import type { ImageWithThumbnails, NewImage, Tier } from '@imageapi/db'
import type { ServedFormat } from '@imageapi/media'
import type { ImageResource } from '../src/routes/schemas.js'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// The listing selects fewer columns, builds a page's resources together and reuses signed tokens;
// what a client gets must not change. The expected resources are built here the way the gateway
// built them before (whole rows, a new signature for every link).
const { app, env, config } = await buildTestGateway(t)
const owner = await createTestUser(env.repos, 'Premium')
const token = (await login(app, owner.email, owner.password)).access
const auth = { authorization: `Bearer ${token}` }
const tier = (await env.repos.tiers.findByName('Premium'))!

function newImage(title: string): NewImage {
  const id = randomUUID()
  return { id, owner_id: owner.user.id, title, format: 'jpeg', width: 4000, height: 3000, bytes: 3_259_686, original_key: `originals/${id}.jpg` }
}

// every state a thumbnail can be listed in
const pending = await env.repos.images.createWithThumbnails(newImage('pending'), [200, 400])
const ready = await env.repos.images.createWithThumbnails(newImage('ready'), [200, 400])
for (const height of [200, 400]) await env.repos.thumbnails.markReady(ready.id, height, { width: Math.round((height * 4) / 3), objectKey: `thumbnails/${ready.id}/${height}.jpg`, bytes: 9_000 })
// ready in WebP at both heights and in AVIF at 400 only (AVIF at 200 still pending), with its placeholder
await env.repos.thumbnails.markRenditionsReady(ready.id, [
  { height: 200, format: 'webp', objectKey: `thumbnails/${ready.id}/200.webp`, bytes: 5_000 },
  { height: 400, format: 'webp', objectKey: `thumbnails/${ready.id}/400.webp`, bytes: 5_000 },
  { height: 400, format: 'avif', objectKey: `thumbnails/${ready.id}/400.avif`, bytes: 4_000 },
])
await env.repos.images.setPlaceholder(ready.id, Buffer.from([0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a]))
const failed = await env.repos.images.createWithThumbnails(newImage('failed'), [200, 400])
await env.repos.thumbnails.markReady(failed.id, 200, { width: 267, objectKey: `thumbnails/${failed.id}/200.jpg`, bytes: 9_000 })
await env.repos.thumbnails.markFailed(failed.id, [400], 'the file ends early')
// 300 px is not in the tier (dropped, say): not listed; 150 px was asked for by name: listed
const notGranted = await env.repos.images.createWithThumbnails(newImage('not granted'), [200, 300])
const requested = (await env.repos.compatUploads.create({ image: newImage('requested'), requested: [150], variant: 150 })).image
await env.repos.thumbnails.markReady(requested.id, 150, { width: 200, objectKey: `thumbnails/${requested.id}/150.jpg`, bytes: 9_000 })
const withoutRows = await env.repos.images.createWithThumbnails(newImage('no thumbnails'), [])
const newestFirst = [withoutRows, requested, notGranted, failed, ready, pending]

/** The resource as the gateway built it before: from the whole row, signing every link anew. */
function expectedResource(image: ImageWithThumbnails, signer: LinkSigner, shownTier: Pick<Tier, 'thumbnail_heights' | 'original_link'>) {
  const granted = new Set(shownTier.thumbnail_heights)
  const urlFor = (variant: 'original' | number, format?: ServedFormat) => `http://localhost:80/v/${signer.sign({ imageId: image.id, variant, ...(format ? { format } : {}) })}`
  return {
    id: image.id,
    title: image.title,
    width: image.width,
    height: image.height,
    format: image.format,
    bytes: image.bytes,
    created_at: image.created_at.toISOString(),
    placeholder: image.placeholder ? image.placeholder.toString('base64') : null,
    thumbnails: image.thumbnails
      .filter((thumbnail) => granted.has(thumbnail.height) || thumbnail.requested)
      .map((thumbnail) => ({
        height: thumbnail.height,
        width: thumbnail.width,
        // a 4000×3000 original is larger than every height here: the owed height
        rendered_height: thumbnail.status === 'ready' ? thumbnail.height : null,
        status: thumbnail.status,
        url: thumbnail.status === 'ready' ? urlFor(thumbnail.height) : null,
        ...(thumbnail.status === 'ready'
          ? { formats: Object.fromEntries((['avif', 'webp', image.format] as const).filter((f) => f === image.format || thumbnail.renditions?.includes(f as 'webp' | 'avif')).map((f) => [f, urlFor(thumbnail.height, f)])) }
          : {}),
        ...(thumbnail.status === 'failed' && thumbnail.error ? { error: thumbnail.error } : {}),
      })),
    original: shownTier.original_link ? { url: urlFor('original') } : null,
  }
}

async function expectedItems(signer: LinkSigner) {
  const rows = await Promise.all(newestFirst.map((image) => env.repos.images.findByOwner(image.id, owner.user.id)))
  return rows.map((row) => expectedResource(row!, signer, tier))
}

async function list(gateway = app, query = '') {
  const response = await gateway.inject({ method: 'GET', url: `/api/images${query}`, headers: auth })
  if (response.statusCode !== 200) throw new Error(`listing failed: ${response.statusCode} ${response.body}`)
  return response
}

t.test('the listing answers exactly what whole rows and fresh signatures give', async (t) => {
  const expected = await expectedItems(createLinkSigner(parseSigningKeys(config.LINK_SIGNING_KEYS)))
  const first = await list()
  t.strictSame(first.json(), { items: expected, next_cursor: null })
  const again = await list()
  t.equal(again.body, first.body, 'the second answer, from remembered tokens, is the same to the byte')
  t.strictSame(again.json().items, expected, 'and equals freshly signed links')

  for (const [index, item] of expected.entries()) {
    const one = await app.inject({ method: 'GET', url: `/api/images/${item.id}`, headers: auth })
    t.strictSame(one.json(), item, `GET /api/images/:id agrees (${newestFirst[index]!.title})`)
  }
  const paged = [...(await list(app, '?limit=4')).json().items]
  const cursor = (await list(app, '?limit=4')).json().next_cursor
  paged.push(...(await list(app, `?limit=4&cursor=${cursor}`)).json().items)
  t.strictSame(paged, expected, 'pages of 4 give the same items')
})

t.test('the listing leaves out what it never returns', async (t) => {
  const page = await env.repos.images.listByOwner(owner.user.id, { limit: 2 })
  t.same(Object.keys(page.images[0]!).sort(), ['bytes', 'created_at', 'format', 'height', 'id', 'placeholder', 'seq', 'thumbnails', 'title', 'width'])
  const [withThumbnails] = (await env.repos.images.listByOwner(owner.user.id, { limit: 1, afterSeq: page.images[1]!.seq })).images
  t.same(withThumbnails!.thumbnails, [
    { height: 200, width: null, status: 'pending', error: null, requested: false, renditions: [] },
    { height: 300, width: null, status: 'pending', error: null, requested: false, renditions: [] },
  ])
})

t.test('a key rotation (a gateway started with a new first key) gives new links, and old ones still verify', async (t) => {
  const before: ImageResource[] = (await list()).json().items
  const rotatedKeys = `k2:${generateSigningKey()},${config.LINK_SIGNING_KEYS}`
  const { app: rotated } = await buildTestGateway(t, { LINK_SIGNING_KEYS: rotatedKeys }, { env })
  const after: ImageResource[] = (await list(rotated)).json().items
  const rotatedSigner = createLinkSigner(parseSigningKeys(rotatedKeys))
  t.strictSame(after, await expectedItems(rotatedSigner), 'as freshly signed with the new key')

  const urls = (items: ImageResource[]) =>
    items
      .flatMap((item) => [...item.thumbnails.flatMap((thumbnail) => [thumbnail.url, ...Object.values(thumbnail.formats ?? {})]), item.original?.url])
      .filter((url): url is string => typeof url === 'string')
  const oldUrls = urls(before)
  const newUrls = urls(after)
  t.equal(newUrls.length, oldUrls.length)
  t.ok(newUrls.length > 0)
  t.ok(newUrls.every((url) => url.startsWith('http://localhost:80/v/k2.')), 'signed with the new key')
  t.ok(newUrls.every((url) => !oldUrls.includes(url)), 'none remembered from before')
  for (const url of [...oldUrls, ...newUrls]) t.ok(rotatedSigner.verify(url.split('/v/')[1]!, Date.now() / 1000).ok, 'verifies with the rotated ring')
  t.strictSame((await list()).json().items, before, 'the gateway on the old key still answers its own links')
})
