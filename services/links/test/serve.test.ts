import t from 'tap'
import { jpegImage } from '@imageapi/testkit'
import { buildLinksHarness, getOnce, seedImage, userOnTier, viewPath } from './helpers/links-fixture.js'

// What a working permanent link serves: bytes, type, length, validators, disposition, caching.
const harness = await buildLinksHarness(t)
const { app, env, signer, passRightsCache, buildAnother, config } = harness
const premium = await userOnTier(env, 'Premium')
const basic = await userOnTier(env, 'Basic')

const STRONG_ETAG = /^"[^"\s]+"$/
const SAFE_DISPOSITION = /^inline; filename="([A-Za-z0-9][A-Za-z0-9._-]*)"$/

t.test('a ready JPEG thumbnail: 200 with its exact bytes and headers', async (t) => {
  const image = await seedImage(env, premium, { format: 'jpeg', title: 'Holiday', owed: [200, 400] })
  const token = signer.sign({ imageId: image.id, variant: 200 })
  const response = await app.inject({ method: 'GET', url: viewPath(token) })
  t.equal(response.statusCode, 200, response.body.slice(0, 200))
  const expected = image.thumbnails.get(200)!
  t.same(response.rawPayload, expected, 'byte-exact thumbnail')
  t.equal(response.headers['content-type'], 'image/jpeg')
  t.equal(response.headers['content-length'], String(expected.length))
  t.match(response.headers.etag, STRONG_ETAG, 'strong ETag: quoted, no W/')
  t.notMatch(String(response.headers.etag), /^W\//)
  t.equal(response.headers['content-disposition'], 'inline; filename="Holiday-200.jpg"')
  t.equal(response.headers['x-content-type-options'], 'nosniff')
  const cacheControl = String(response.headers['cache-control'])
  t.match(cacheControl, /\bimmutable\b/, 'permanent thumbnail is immutable')
  t.match(cacheControl, /\bpublic\b/)
  // README: thumbnail links are cacheable for a day (LINK_THUMBNAIL_MAX_AGE_SECONDS, default 86400), which this harness keeps
  t.equal(config.LINK_THUMBNAIL_MAX_AGE_SECONDS, 24 * 3600, 'the harness runs with the documented default: a day')
  t.equal(Number(/max-age=(\d+)/.exec(cacheControl)?.[1]), config.LINK_THUMBNAIL_MAX_AGE_SECONDS, 'max-age is LINK_THUMBNAIL_MAX_AGE_SECONDS exactly')
  t.notOk(response.headers.expires, 'no Expires on a permanent link')

  const other = await app.inject({ method: 'GET', url: viewPath(signer.sign({ imageId: image.id, variant: 400 })) })
  t.equal(other.statusCode, 200)
  t.same(other.rawPayload, image.thumbnails.get(400), 'the 400 px link opens the 400 px object')
  t.not(other.headers.etag, response.headers.etag, 'each variant has its own ETag')
})

t.test('a ready PNG thumbnail is served as image/png with a .png filename', async (t) => {
  const image = await seedImage(env, basic, { format: 'png', title: 'diagram' })
  const response = await app.inject({ method: 'GET', url: viewPath(signer.sign({ imageId: image.id, variant: 200 })) })
  t.equal(response.statusCode, 200)
  t.equal(response.headers['content-type'], 'image/png')
  t.same(response.rawPayload, image.thumbnails.get(200))
  t.equal(response.headers['content-length'], String(image.thumbnails.get(200)!.length))
  t.equal(response.headers['content-disposition'], 'inline; filename="diagram-200.png"')
})

t.test('the same link twice gives the same ETag; a re-rendered thumbnail gets a new one', async (t) => {
  const image = await seedImage(env, premium, { owed: [200] })
  const url = viewPath(signer.sign({ imageId: image.id, variant: 200 }))
  const first = await app.inject({ method: 'GET', url })
  const second = await app.inject({ method: 'GET', url })
  t.equal(first.headers.etag, second.headers.etag)
  // the worker renders it again (e.g. after a reconcile) into the same key with other bytes
  const again = await jpegImage(300, 200, { quality: 40 })
  await env.storage.putObject(`thumbnails/${image.id}/200.jpg`, again, again.length, 'image/jpeg')
  await env.repos.thumbnails.markReady(image.id, 200, { width: 300, objectKey: `thumbnails/${image.id}/200.jpg`, bytes: again.length })
  passRightsCache()
  const third = await app.inject({ method: 'GET', url })
  t.same(third.rawPayload, again)
  t.not(third.headers.etag, first.headers.etag, 'the validator changed with the object')
})

t.test('hostile and non-ASCII titles give a safe Content-Disposition filename', async (t) => {
  const titles = [
    '../../etc/passwd "evil"\r\n<script>',
    '..\\..\\windows\\system32',
    'Holiday 🏖 <b>"x"</b>',
    '🏖🏖🏖',
    'Zürich café',
    '   ',
    '.hidden',
    '"; filename="evil.exe',
    'a/b\\c%2F..%2F',
    'x'.repeat(100),
  ]
  for (const title of titles) {
    const image = await seedImage(env, premium, { title, owed: [200] })
    for (const variant of [200, 'original'] as const) {
      const response = await app.inject({ method: 'GET', url: viewPath(signer.sign({ imageId: image.id, variant })) })
      t.equal(response.statusCode, 200, `${JSON.stringify(title)} ${variant}: 200`)
      const disposition = String(response.headers['content-disposition'])
      const match = SAFE_DISPOSITION.exec(disposition)
      t.ok(match, `${JSON.stringify(title)} ${variant}: ${disposition} is one quoted token of safe characters`)
      const filename = match?.[1] ?? ''
      t.notMatch(filename, /^[.-]/, 'no leading dot or dash (hidden file, "..", option-like)')
      t.notMatch(filename, /[/\\"\r\n\0]/, 'no slash, backslash, quote, line break or NUL: no path to traverse, no header to break')
      t.match(filename, variant === 'original' ? /\.jpg$/ : /-200\.jpg$/, 'extension from the stored format')
      t.ok(filename.length <= 100, 'bounded length')
    }
  }
  const evil = await seedImage(env, premium, { title: '../../etc/passwd "evil"\r\n<script>', owed: [200] })
  const response = await app.inject({ method: 'GET', url: viewPath(signer.sign({ imageId: evil.id, variant: 200 })) })
  t.equal(response.headers['content-disposition'], 'inline; filename="etcpasswd-evilscript-200.jpg"')
  const emoji = await seedImage(env, premium, { title: '🏖🏖', owed: [200] })
  const emojiResponse = await app.inject({ method: 'GET', url: viewPath(signer.sign({ imageId: emoji.id, variant: 200 })) })
  t.equal(emojiResponse.headers['content-disposition'], 'inline; filename="image-200.jpg"', 'nothing left of an emoji title: a neutral name')
})

t.test('the original on a tier with original links: 200, byte-exact, short public caching', async (t) => {
  const image = await seedImage(env, premium, { format: 'jpeg', title: 'raw', owed: [200, 400] })
  const response = await app.inject({ method: 'GET', url: viewPath(signer.sign({ imageId: image.id, variant: 'original' })) })
  t.equal(response.statusCode, 200)
  t.same(response.rawPayload, image.original, 'byte-exact original')
  t.equal(response.headers['content-type'], 'image/jpeg')
  t.equal(response.headers['content-length'], String(image.original.length))
  t.match(response.headers.etag, STRONG_ETAG)
  t.equal(response.headers['content-disposition'], 'inline; filename="raw.jpg"')
  const cacheControl = String(response.headers['cache-control'])
  t.notMatch(cacheControl, /immutable/, 'an original is re-checked against the tier: not immutable')
  const maxAge = Number(/max-age=(\d+)/.exec(cacheControl)?.[1])
  t.ok(maxAge > 0 && maxAge <= 3600, `short max-age (${maxAge})`)

  const png = await seedImage(env, premium, { format: 'png', title: 'raw', owed: [] })
  const pngResponse = await app.inject({ method: 'GET', url: viewPath(signer.sign({ imageId: png.id, variant: 'original' })) })
  t.equal(pngResponse.statusCode, 200)
  t.equal(pngResponse.headers['content-type'], 'image/png')
  t.same(pngResponse.rawPayload, png.original)
  t.equal(pngResponse.headers['content-disposition'], 'inline; filename="raw.png"')
})

t.test('HEAD: the same headers as GET and no body', async (t) => {
  const image = await seedImage(env, premium, { owed: [200] })
  for (const variant of [200, 'original'] as const) {
    const url = viewPath(signer.sign({ imageId: image.id, variant }))
    const get = await app.inject({ method: 'GET', url })
    const head = await app.inject({ method: 'HEAD', url })
    t.equal(head.statusCode, 200, `${variant}: 200`)
    t.equal(head.rawPayload.length, 0, `${variant}: no body`)
    for (const name of ['content-type', 'content-length', 'etag', 'cache-control', 'content-disposition']) {
      t.equal(head.headers[name], get.headers[name], `${variant}: ${name} as for GET`)
    }
  }
})

t.test('If-None-Match with the current ETag: 304, no body, validators kept', async (t) => {
  const image = await seedImage(env, premium, { owed: [200] })
  for (const variant of [200, 'original'] as const) {
    const url = viewPath(signer.sign({ imageId: image.id, variant }))
    const first = await app.inject({ method: 'GET', url })
    const etag = String(first.headers.etag)
    const conditional = await app.inject({ method: 'GET', url, headers: { 'if-none-match': etag } })
    t.equal(conditional.statusCode, 304, `${variant}: 304`)
    t.equal(conditional.rawPayload.length, 0, `${variant}: no body`)
    t.equal(conditional.headers.etag, etag, `${variant}: ETag repeated`)
    t.equal(conditional.headers['cache-control'], first.headers['cache-control'], `${variant}: Cache-Control repeated`)
    const head = await app.inject({ method: 'HEAD', url, headers: { 'if-none-match': etag } })
    t.equal(head.statusCode, 304, `${variant}: HEAD 304`)
    const stale = await app.inject({ method: 'GET', url, headers: { 'if-none-match': '"something-else"' } })
    t.equal(stale.statusCode, 200, `${variant}: another ETag → the full 200`)
    t.same(stale.rawPayload, variant === 'original' ? image.original : image.thumbnails.get(200))
  }
})

t.test('If-None-Match as caches send it (RFC 9110 13.1.2: a list, weak comparison, *) still gives 304', async (t) => {
  const image = await seedImage(env, premium, { owed: [200] })
  const url = viewPath(signer.sign({ imageId: image.id, variant: 200 }))
  const etag = String((await app.inject({ method: 'GET', url })).headers.etag)
  for (const header of [`"other", ${etag}`, `W/${etag}`, '*']) {
    const response = await app.inject({ method: 'GET', url, headers: { 'if-none-match': header } })
    t.equal(response.statusCode, 304, `If-None-Match: ${header}`)
  }
})

t.test('a thumbnail re-rendered in place while its rights are cached: Content-Length always matches the body sent', async (t) => {
  // body cache off: every request streams from storage, as files over LINK_BODY_CACHE_MAX_OBJECT_BYTES do
  const streaming = await buildAnother({ env: { LINK_BODY_CACHE_BYTES: '0' } })
  const image = await seedImage(env, premium, { owed: [200] })
  const url = viewPath(signer.sign({ imageId: image.id, variant: 200 }))
  const first = await streaming.inject({ method: 'GET', url })
  t.equal(first.statusCode, 200)
  const again = await jpegImage(500, 200, { quality: 95 })
  t.not(again.length, image.thumbnails.get(200)!.length, 'the new rendering has another size')
  await env.storage.putObject(`thumbnails/${image.id}/200.jpg`, again, again.length, 'image/jpeg')
  await env.repos.thumbnails.markReady(image.id, 200, { width: 500, objectKey: `thumbnails/${image.id}/200.jpg`, bytes: again.length })
  const within = await streaming.inject({ method: 'GET', url }) // inside LINK_CHECK_CACHE_MS
  t.equal(within.statusCode, 200)
  t.equal(Number(within.headers['content-length']), within.rawPayload.length, `Content-Length ${within.headers['content-length']} = bytes sent ${within.rawPayload.length}`)
  const old = image.thumbnails.get(200)!
  t.ok(within.rawPayload.equals(old) || within.rawPayload.equals(again), 'one whole rendering, old or new')
})

t.test('byte ranges: 206 with Content-Range, from the in-memory and the streamed path alike', async (t) => {
  const small = await seedImage(env, premium, { format: 'jpeg', owed: [200] })
  const large = await seedImage(env, premium, { format: 'png', owed: [400], width: 640, height: 480 })
  const cases = [
    { name: 'small JPEG thumbnail (cached body)', token: signer.sign({ imageId: small.id, variant: 200 }), data: small.thumbnails.get(200)! },
    { name: 'PNG original (streamed)', token: signer.sign({ imageId: large.id, variant: 'original' }), data: large.original },
    { name: 'PNG 400 px (streamed)', token: signer.sign({ imageId: large.id, variant: 400 }), data: large.thumbnails.get(400)! },
  ]
  t.ok(large.original.length > 512 * 1024, 'the PNG original is over the body-cache object limit')
  for (const c of cases) {
    const url = viewPath(c.token)
    const size = c.data.length
    const whole = await app.inject({ method: 'GET', url })
    t.equal(whole.headers['accept-ranges'], 'bytes', `${c.name}: Accept-Ranges`)
    const etag = String(whole.headers.etag)

    const first = await app.inject({ method: 'GET', url, headers: { range: 'bytes=0-99' } })
    t.equal(first.statusCode, 206, `${c.name}: 206`)
    t.equal(first.headers['content-range'], `bytes 0-99/${size}`)
    t.equal(first.headers['content-length'], '100')
    t.same(first.rawPayload, c.data.subarray(0, 100), `${c.name}: first 100 bytes`)
    t.equal(first.headers.etag, etag, `${c.name}: same validator on a part`)

    const middle = await app.inject({ method: 'GET', url, headers: { range: `bytes=1000-${size + 50}` } })
    t.equal(middle.statusCode, 206)
    t.equal(middle.headers['content-range'], `bytes 1000-${size - 1}/${size}`, `${c.name}: end clamped`)
    t.same(middle.rawPayload, c.data.subarray(1000), `${c.name}: open-ended tail`)

    const suffix = await app.inject({ method: 'GET', url, headers: { range: 'bytes=-64' } })
    t.equal(suffix.statusCode, 206)
    t.same(suffix.rawPayload, c.data.subarray(size - 64), `${c.name}: last 64 bytes`)

    const beyond = await app.inject({ method: 'GET', url, headers: { range: `bytes=${size}-` } })
    t.equal(beyond.statusCode, 416, `${c.name}: past the end → 416`)
    t.equal(beyond.headers['content-range'], `bytes */${size}`)

    const several = await app.inject({ method: 'GET', url, headers: { range: 'bytes=0-1,5-9' } })
    t.equal(several.statusCode, 200, `${c.name}: several ranges → the whole file`)
    t.same(several.rawPayload, c.data)

    const ifRangeCurrent = await app.inject({ method: 'GET', url, headers: { range: 'bytes=0-9', 'if-range': etag } })
    t.equal(ifRangeCurrent.statusCode, 206, `${c.name}: If-Range with the current ETag → the part`)
    const ifRangeStale = await app.inject({ method: 'GET', url, headers: { range: 'bytes=0-9', 'if-range': '"stale"' } })
    t.equal(ifRangeStale.statusCode, 200, `${c.name}: If-Range with another ETag → the whole file`)
    t.same(ifRangeStale.rawPayload, c.data)
  }
})

t.test('redirect mode: 302 to a presigned storage URL that serves the same bytes, never longer than the link', async (t) => {
  const redirecting = await buildAnother({ env: { LINKS_REDIRECT: 'true', LINKS_REDIRECT_MAX_SECONDS: '120' } })
  const image = await seedImage(env, premium, { format: 'jpeg', title: 'sent elsewhere', owed: [200] })
  const response = await redirecting.inject({ method: 'GET', url: viewPath(signer.sign({ imageId: image.id, variant: 200 })) })
  t.equal(response.statusCode, 302)
  t.equal(response.headers['cache-control'], 'no-store', 'the redirect itself is not cached')
  const location = new URL(String(response.headers.location))
  t.equal(location.origin, env.s3.endPoint.replace(/\/$/, ''), 'points at the storage server')
  t.equal(location.searchParams.get('X-Amz-Expires'), '120', 'lifetime = LINKS_REDIRECT_MAX_SECONDS for a permanent link')
  const fetched = await getOnce(location.toString())
  t.equal(fetched.status, 200)
  t.same(fetched.body, image.thumbnails.get(200), 'storage serves the exact bytes')
  t.equal(fetched.headers['content-type'], 'image/jpeg')
  t.equal(fetched.headers['content-disposition'], 'inline; filename="sent-elsewhere-200.jpg"')

  const bad = await redirecting.inject({ method: 'GET', url: viewPath('garbage') })
  t.equal(bad.statusCode, 404, 'a bad token is still a 404, not a redirect')
  t.notOk(bad.headers.location)
  const basicOriginal = await redirecting.inject({ method: 'GET', url: viewPath(signer.sign({ imageId: (await seedImage(env, basic, { owed: [] })).id, variant: 'original' })) })
  t.equal(basicOriginal.statusCode, 404, 'rights are checked before redirecting')
})

t.test('a full answer from memory says how long it stays valid (x-imageapi-reusable-ms), never past the rights check', async (t) => {
  const { clock, config } = harness
  const image = await seedImage(env, premium, { owed: [200] })
  const url = viewPath(signer.sign({ imageId: image.id, variant: 200 }))
  passRightsCache()
  const fresh = await app.inject({ method: 'GET', url })
  t.equal(fresh.statusCode, 200)
  t.equal(Number(fresh.headers['x-imageapi-reusable-ms']), config.LINK_CHECK_CACHE_MS, 'a fresh rights check: the whole LINK_CHECK_CACHE_MS')
  clock.advance(config.LINK_CHECK_CACHE_MS - 500)
  const later = await app.inject({ method: 'GET', url })
  t.equal(Number(later.headers['x-imageapi-reusable-ms']), 500, 'a cached check: only what is left of it')

  const range = await app.inject({ method: 'GET', url, headers: { range: 'bytes=0-9' } })
  t.equal(range.statusCode, 206)
  t.notOk(range.headers['x-imageapi-reusable-ms'], 'not on a partial answer')
  const head = await app.inject({ method: 'HEAD', url })
  t.notOk(head.headers['x-imageapi-reusable-ms'], 'not on HEAD')
  const notModified = await app.inject({ method: 'GET', url, headers: { 'if-none-match': String(fresh.headers.etag) } })
  t.equal(notModified.statusCode, 304)
  t.notOk(notModified.headers['x-imageapi-reusable-ms'], 'not on a 304')

  const uncached = await buildAnother({ env: { LINK_CHECK_CACHE_MS: '0' } })
  const direct = await uncached.inject({ method: 'GET', url })
  t.equal(direct.statusCode, 200)
  t.notOk(direct.headers['x-imageapi-reusable-ms'], 'with LINK_CHECK_CACHE_MS=0 nothing may reuse an answer')
  const streamed = await buildAnother({ env: { LINK_BODY_CACHE_MAX_OBJECT_BYTES: '0' } })
  const large = await streamed.inject({ method: 'GET', url })
  t.equal(large.statusCode, 200)
  t.notOk(large.headers['x-imageapi-reusable-ms'], 'not for a file streamed from storage')
})
