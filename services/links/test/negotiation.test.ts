import t from 'tap'
import { buildLinksHarness, EXPIRED_BODY, NOT_FOUND_BODY, REVOKED_BODY, seedImage, userOnTier, viewPath } from './helpers/links-fixture.js'

// A thumbnail link answers with the best format the request's Accept allows, and says so (Vary);
// a link pinned to a format answers in it alone; originals and the compat paths never convert.
const harness = await buildLinksHarness(t)
const { app, env, signer, clock, passRightsCache } = harness
await env.repos.renditionFormats.update('avif', { enabled: true }) // off by default
const enterprise = await userOnTier(env, 'Enterprise')
const basic = await userOnTier(env, 'Basic')
const CHROME = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8'

const jpeg = await seedImage(env, enterprise, { format: 'jpeg', title: 'Lake', owed: [200, 400], renditions: ['webp', 'avif'] })
const png = await seedImage(env, basic, { format: 'png', title: 'chart', owed: [200], renditions: ['webp'] })

function get(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') {
  return app.inject({ method, url, headers })
}

t.test('the negotiation table: each Accept gets its format, with Vary: Accept on every answer, the fallback included', async (t) => {
  const url = viewPath(signer.sign({ imageId: jpeg.id, variant: 200 }))
  const pngUrl = viewPath(signer.sign({ imageId: png.id, variant: 200 }))
  const table: Array<[string, string | undefined, string, Buffer]> = [
    [url, undefined, 'image/jpeg', jpeg.thumbnails.get(200)!],
    [url, '*/*', 'image/jpeg', jpeg.thumbnails.get(200)!],
    [url, 'image/*', 'image/jpeg', jpeg.thumbnails.get(200)!],
    [url, CHROME, 'image/avif', jpeg.renditions.get('200:avif')!],
    [url, 'image/webp,*/*', 'image/webp', jpeg.renditions.get('200:webp')!],
    [url, 'image/avif;q=0,image/webp,*/*', 'image/webp', jpeg.renditions.get('200:webp')!],
    [url, 'image/avif;q=0,image/webp;q=0,*/*', 'image/jpeg', jpeg.thumbnails.get(200)!],
    [url, 'image/webp;q=1,image/avif;q=0.4', 'image/webp', jpeg.renditions.get('200:webp')!],
    [url, 'image/avif;q=7', 'image/jpeg', jpeg.thumbnails.get(200)!],
    [url, 'not a media type', 'image/jpeg', jpeg.thumbnails.get(200)!],
    [pngUrl, CHROME, 'image/webp', png.renditions.get('200:webp')!],
    [pngUrl, 'image/avif', 'image/png', png.thumbnails.get(200)!],
  ]
  for (const [path, accept, contentType, bytes] of table) {
    const response = await get(path, accept === undefined ? {} : { accept })
    const what = `Accept ${JSON.stringify(accept)} on the ${path === url ? 'JPEG' : 'PNG'} image`
    t.equal(response.statusCode, 200, what)
    t.equal(response.headers['content-type'], contentType, `${what}: ${contentType}`)
    t.same(response.rawPayload, bytes, `${what}: the exact bytes of that rendition`)
    t.equal(response.headers.vary, 'Accept', `${what}: Vary: Accept`)
    t.equal(response.headers['content-length'], String(bytes.length))
  }
})

t.test('each representation has its own ETag, 304, Range and HEAD', async (t) => {
  const url = viewPath(signer.sign({ imageId: jpeg.id, variant: 400 }))
  const etags = new Set<string>()
  for (const [accept, bytes] of [
    ['image/avif', jpeg.renditions.get('400:avif')!],
    ['image/webp', jpeg.renditions.get('400:webp')!],
    ['*/*', jpeg.thumbnails.get(400)!],
  ] as const) {
    const full = await get(url, { accept })
    const etag = String(full.headers.etag)
    etags.add(etag)
    const notModified = await get(url, { accept, 'if-none-match': etag })
    t.equal(notModified.statusCode, 304, `${accept}: its own ETag revalidates`)
    t.equal(notModified.headers.vary, 'Accept', `${accept}: the 304 says Vary too`)
    const range = await get(url, { accept, range: 'bytes=10-19' })
    t.equal(range.statusCode, 206, `${accept}: a range`)
    t.same(range.rawPayload, bytes.subarray(10, 20), `${accept}: bytes 10–19 of that representation`)
    t.equal(range.headers['content-range'], `bytes 10-19/${bytes.length}`)
    const head = await get(url, { accept }, 'HEAD')
    t.equal(head.headers['content-length'], String(bytes.length), `${accept}: HEAD gives that representation's length`)
    t.equal(head.headers.etag, etag, `${accept}: HEAD gives that representation's ETag`)
  }
  t.equal(etags.size, 3, 'three representations, three ETags')
  const other = await get(url, { accept: 'image/webp', 'if-none-match': String([...etags][0]) })
  t.equal(other.statusCode, 200, "the AVIF ETag does not revalidate the WebP representation")
})

t.test('a link pinned to a format answers in it whatever the Accept, without Vary; a format not made is 404', async (t) => {
  for (const format of ['avif', 'webp', 'jpeg'] as const) {
    const response = await get(viewPath(signer.sign({ imageId: jpeg.id, variant: 200, format })), { accept: '*/*' })
    t.equal(response.statusCode, 200, format)
    t.equal(response.headers['content-type'], `image/${format}`)
    t.same(response.rawPayload, format === 'jpeg' ? jpeg.thumbnails.get(200) : jpeg.renditions.get(`200:${format}`))
    t.notOk(response.headers.vary, `${format}: one representation, no Vary`)
    t.match(response.headers['content-disposition'], new RegExp(`Lake-200\\.${format === 'jpeg' ? 'jpg' : format}"$`))
  }
  const missing = await get(viewPath(signer.sign({ imageId: png.id, variant: 200, format: 'avif' })))
  t.equal(missing.statusCode, 404, 'AVIF was not made for the PNG image')
  t.same(missing.json(), NOT_FOUND_BODY)
  const wrongSource = await get(viewPath(signer.sign({ imageId: png.id, variant: 200, format: 'jpeg' })))
  t.equal(wrongSource.statusCode, 404, 'a PNG image has no JPEG')
})

t.test('the original is byte-exact whatever the Accept, and the compat path serves the source format', async (t) => {
  const original = await get(viewPath(signer.sign({ imageId: jpeg.id, variant: 'original' })), { accept: CHROME })
  t.equal(original.statusCode, 200)
  t.same(original.rawPayload, jpeg.original, 'the uploaded bytes')
  t.equal(original.headers['content-type'], 'image/jpeg')
  t.notOk(original.headers.vary, 'an original has one representation')
  const compat = await get(`/api/view/${signer.sign({ imageId: jpeg.id, variant: 200 })}/`, { accept: CHROME })
  t.equal(compat.statusCode, 200)
  t.equal(compat.headers['content-type'], 'image/jpeg', 'the compat clients get what they always got')
  t.same(compat.rawPayload, jpeg.thumbnails.get(200))
  t.notOk(compat.headers.vary)
})

t.test('expiry and revocation close every format of a link', async (t) => {
  const expiresAt = clock.seconds() + 600
  const formats = [undefined, 'avif', 'webp', 'jpeg'] as const
  const links = await Promise.all(formats.map((format) => env.repos.links.create({ imageId: jpeg.id, variant: '200', expiresAt: new Date(expiresAt * 1000), format })))
  const urls = links.map((link, i) => viewPath(signer.sign({ imageId: jpeg.id, variant: 200, expiresAt, linkId: link.id, ...(formats[i] ? { format: formats[i] } : {}) })))
  for (const [i, url] of urls.entries()) t.equal((await get(url, { accept: CHROME })).statusCode, 200, `${formats[i] ?? 'negotiated'}: opens while live`)

  const pinnedToOtherFormat = viewPath(signer.sign({ imageId: jpeg.id, variant: 200, expiresAt, linkId: links[1]!.id, format: 'webp' }))
  t.equal((await get(pinnedToOtherFormat)).statusCode, 404, "a token naming another format than its link row's does not open")

  for (const link of links) await env.repos.links.revokeForOwner(link.id, enterprise.id, new Date(clock.now()))
  passRightsCache()
  for (const [i, url] of urls.entries()) {
    const response = await get(url, { accept: CHROME })
    t.equal(response.statusCode, 410, `${formats[i] ?? 'negotiated'}: revoked`)
    t.same(response.json(), REVOKED_BODY)
  }

  const live = await env.repos.links.create({ imageId: jpeg.id, variant: '200', expiresAt: new Date((clock.seconds() + 300) * 1000), format: 'avif' })
  const liveUrl = viewPath(signer.sign({ imageId: jpeg.id, variant: 200, expiresAt: clock.seconds() + 300, linkId: live.id, format: 'avif' }))
  t.equal((await get(liveUrl)).statusCode, 200)
  clock.advance(301_000)
  const expired = await get(liveUrl)
  t.equal(expired.statusCode, 410, 'an AVIF link expires like any other')
  t.same(expired.json(), EXPIRED_BODY)
})

t.test("the tier's grant applies to every format: a height the tier drops closes its renditions too", async (t) => {
  const image = await seedImage(env, basic, { format: 'jpeg', owed: [200], renditions: ['webp'] })
  const negotiated = viewPath(signer.sign({ imageId: image.id, variant: 200 }))
  const pinned = viewPath(signer.sign({ imageId: image.id, variant: 200, format: 'webp' }))
  t.equal((await get(negotiated, { accept: 'image/webp' })).headers['content-type'], 'image/webp')
  const tier = await env.repos.tiers.findByName('Basic')
  await env.database.db.updateTable('tiers').set({ thumbnail_heights: [100] }).where('id', '=', tier!.id).execute()
  t.teardown(() => env.database.db.updateTable('tiers').set({ thumbnail_heights: tier!.thumbnail_heights }).where('id', '=', tier!.id).execute())
  passRightsCache()
  t.equal((await get(negotiated, { accept: 'image/webp' })).statusCode, 404, 'negotiated link closed')
  t.equal((await get(pinned)).statusCode, 404, 'WebP link closed')
})

t.test('a format turned off is no longer offered; its files come back when it is turned on', async (t) => {
  const url = viewPath(signer.sign({ imageId: jpeg.id, variant: 200 }))
  await env.repos.renditionFormats.update('avif', { enabled: false })
  passRightsCache()
  t.equal((await get(url, { accept: CHROME })).headers['content-type'], 'image/webp', 'AVIF off: the next best')
  t.equal((await get(viewPath(signer.sign({ imageId: jpeg.id, variant: 200, format: 'avif' })))).statusCode, 404, 'a pinned AVIF link closes')
  await env.repos.renditionFormats.update('avif', { enabled: true })
  passRightsCache()
  t.equal((await get(url, { accept: CHROME })).headers['content-type'], 'image/avif', 'back on: AVIF again')
})
