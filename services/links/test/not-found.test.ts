import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { buildLinksHarness, moveToTier, NOT_FOUND_BODY, ringEntry, seedImage, signerFor, userOnTier, viewPath } from './helpers/links-fixture.js'

// Every way a link can fail to open, and that each one looks the same from outside: 404, one body, no caching.
const { app, env, signer, passRightsCache, buildAnother } = await buildLinksHarness(t)

function assertNotFound(t: Test, response: LightMyRequestResponse, what: string): void {
  t.equal(response.statusCode, 404, `${what}: 404 (${response.body.slice(0, 120)})`)
  t.same(response.json(), NOT_FOUND_BODY, `${what}: {"detail":"Not found."}`)
  t.match(response.headers['content-type'], /^application\/json/, `${what}: JSON`)
  t.notOk(response.headers.etag, `${what}: no ETag`)
  t.notOk(response.headers['content-disposition'], `${what}: no Content-Disposition`)
  t.notMatch(String(response.headers['cache-control'] ?? ''), /public|immutable|max-age=[1-9]/, `${what}: not cacheable (Cache-Control: ${response.headers['cache-control']})`)
}

async function get(token: string, method: 'GET' | 'HEAD' = 'GET') {
  return app.inject({ method, url: viewPath(token) })
}

/** Flips one character of the part of the token at `part` (0 key id, 1 payload, 2 MAC) to another of the base64url alphabet. */
function flip(token: string, part: 0 | 1 | 2, index = 5): string {
  const parts = token.split('.')
  const text = parts[part]!
  const i = Math.min(index, text.length - 1)
  const replacement = text[i] === 'A' ? 'B' : 'A'
  parts[part] = text.slice(0, i) + replacement + text.slice(i + 1)
  return parts.join('.')
}

const premium = await userOnTier(env, 'Premium')
const basic = await userOnTier(env, 'Basic')
const premiumImage = await seedImage(env, premium, { owed: [200, 400] })
const basicImage = await seedImage(env, basic, { owed: [200] })

t.test('the valid tokens these cases start from do open', async (t) => {
  t.equal((await get(signer.sign({ imageId: premiumImage.id, variant: 200 }))).statusCode, 200)
  t.equal((await get(signer.sign({ imageId: premiumImage.id, variant: 'original' }))).statusCode, 200)
  t.equal((await get(signer.sign({ imageId: basicImage.id, variant: 200 }))).statusCode, 200)
})

t.test('tampered tokens: 404', async (t) => {
  const token = signer.sign({ imageId: premiumImage.id, variant: 200 })
  const [kid, payload, mac] = token.split('.') as [string, string, string]
  assertNotFound(t, await get(flip(token, 1)), 'a payload character flipped')
  assertNotFound(t, await get(flip(token, 2)), 'a MAC character flipped')
  assertNotFound(t, await get(flip(token, 0, 0)), 'the key id changed')
  assertNotFound(t, await get(`${kid}.${payload}.${mac.slice(0, -1)}`), 'MAC truncated')
  assertNotFound(t, await get(`${kid}.${payload}`), 'MAC missing')
  assertNotFound(t, await get(`${token}A`), 'a character appended')
  assertNotFound(t, await get(`${token}.${mac}`), 'a fourth part')
  // the 400 px claim with the 200 px MAC: a variant swapped in the payload
  const other = signer.sign({ imageId: premiumImage.id, variant: 400 }).split('.')[1]!
  assertNotFound(t, await get(`${kid}.${other}.${mac}`), 'payload of another token with this MAC')
  // the MAC is computed over the payload text: upgrading a thumbnail link to the original must not work
  const original = signer.sign({ imageId: premiumImage.id, variant: 'original' }).split('.')[1]!
  assertNotFound(t, await get(`${kid}.${original}.${mac}`), 'original payload with a thumbnail MAC')
  const head = await get(flip(token, 1), 'HEAD')
  t.equal(head.statusCode, 404, 'HEAD of a tampered token: 404')
})

t.test('a token signed with a key not in the ring: 404', async (t) => {
  const sameKid = signerFor(ringEntry('k1')) // the app's key id, another secret
  assertNotFound(t, await get(sameKid.sign({ imageId: premiumImage.id, variant: 200 })), 'same key id, other secret')
  const otherKid = signerFor(ringEntry('stranger'))
  assertNotFound(t, await get(otherKid.sign({ imageId: premiumImage.id, variant: 200 })), 'unknown key id')
})

t.test('garbage: 404 with the same body', async (t) => {
  for (const garbage of ['garbage', 'a.b.c', '...', 'k1..', '%00', '..%2F..%2Fetc%2Fpasswd', encodeURIComponent('🙂.🙂.🙂')]) {
    assertNotFound(t, await get(garbage), `garbage ${JSON.stringify(garbage.slice(0, 30))}`)
  }
  assertNotFound(t, await app.inject({ method: 'GET', url: '/v/' }), 'no token at all')
  assertNotFound(t, await app.inject({ method: 'GET', url: '/nowhere' }), 'another path')
})

t.test('garbage the router refuses before the route runs: still 404, nothing echoed', async (t) => {
  // longer than any real token (at most 94 characters) and than the router's default parameter limit (100)
  const long = 'x'.repeat(600)
  assertNotFound(t, await get(long), '600-character token')
  t.notMatch((await get(long)).body, /xxxxxxxxxx/, 'the URL is not echoed back')
  // a percent escape that is not UTF-8
  assertNotFound(t, await get('%FF%FE.%C0.x'), 'invalid percent-encoding')
})

t.test('a well-signed token for an image that does not exist: 404', async (t) => {
  assertNotFound(t, await get(signer.sign({ imageId: '00000000-0000-4000-8000-000000000000', variant: 200 })), 'unknown image id')
})

t.test('a thumbnail that is not ready (pending, failed) or was never owed: 404', async (t) => {
  const pending = await seedImage(env, premium, { owed: [200, 400], ready: [] })
  assertNotFound(t, await get(signer.sign({ imageId: pending.id, variant: 200 })), 'pending 200 px')
  await env.repos.thumbnails.markFailed(pending.id, [400], 'decoder gave up')
  assertNotFound(t, await get(signer.sign({ imageId: pending.id, variant: 400 })), 'failed 400 px')
  const only200 = await seedImage(env, premium, { owed: [200] })
  assertNotFound(t, await get(signer.sign({ imageId: only200.id, variant: 400 })), 'granted height without a row')
})

t.test('a height the owner’s tier does not grant: 404 even with a ready row', async (t) => {
  // a 400 px row made ready for a Basic user (e.g. rendered before a downgrade)
  const image = await seedImage(env, basic, { owed: [200, 400] })
  assertNotFound(t, await get(signer.sign({ imageId: image.id, variant: 400 })), '400 px on Basic')
  assertNotFound(t, await get(signer.sign({ imageId: basicImage.id, variant: 400 })), '400 px on Basic, no row')
  assertNotFound(t, await get(signer.sign({ imageId: basicImage.id, variant: 123 })), 'a height no tier has')
})

t.test('the original on a tier without original links: 404', async (t) => {
  assertNotFound(t, await get(signer.sign({ imageId: basicImage.id, variant: 'original' })), 'Basic original')
})

t.test('a deleted image: every link 404', async (t) => {
  const image = await seedImage(env, premium, { owed: [200, 400] })
  const tokens = [200, 400, 'original' as const].map((variant) => signer.sign({ imageId: image.id, variant }))
  for (const token of tokens) t.equal((await get(token)).statusCode, 200, 'opens before the delete')
  const keys = await env.repos.images.deleteByOwner(image.id, premium.id)
  t.ok(keys?.length, 'deleted')
  passRightsCache()
  for (const token of tokens) assertNotFound(t, await get(token), 'after the delete')
})

t.test('with LINK_CHECK_CACHE_MS=0 a change to the rows shows on the very next request', async (t) => {
  const uncached = await buildAnother({ env: { LINK_CHECK_CACHE_MS: '0' } })
  const image = await seedImage(env, premium, { owed: [200] })
  const url = viewPath(signer.sign({ imageId: image.id, variant: 200 }))
  t.equal((await uncached.inject({ method: 'GET', url })).statusCode, 200)
  await env.repos.images.deleteByOwner(image.id, premium.id)
  assertNotFound(t, await uncached.inject({ method: 'GET', url }), 'deleted, no clock change')
})

t.test('an inactive owner: links 404, and open again once reactivated', async (t) => {
  const owner = await userOnTier(env, 'Premium')
  const image = await seedImage(env, owner, { owed: [200] })
  const thumbnail = signer.sign({ imageId: image.id, variant: 200 })
  const original = signer.sign({ imageId: image.id, variant: 'original' })
  t.equal((await get(thumbnail)).statusCode, 200)
  await env.repos.users.setActive(owner.id, false)
  passRightsCache()
  assertNotFound(t, await get(thumbnail), 'thumbnail of an inactive owner')
  assertNotFound(t, await get(original), 'original of an inactive owner')
  await env.repos.users.setActive(owner.id, true)
  passRightsCache()
  t.equal((await get(thumbnail)).statusCode, 200, 'reactivated')
})

t.test('a tier downgrade: the original and 400 px links of a former Premium user stop working', async (t) => {
  const owner = await userOnTier(env, 'Premium')
  const image = await seedImage(env, owner, { owed: [200, 400] })
  const original = signer.sign({ imageId: image.id, variant: 'original' })
  const big = signer.sign({ imageId: image.id, variant: 400 })
  const small = signer.sign({ imageId: image.id, variant: 200 })
  t.equal((await get(original)).statusCode, 200, 'original opens on Premium')
  t.equal((await get(big)).statusCode, 200, '400 px opens on Premium')
  await moveToTier(env, owner.id, 'Basic')
  passRightsCache()
  assertNotFound(t, await get(original), 'original after the downgrade')
  assertNotFound(t, await get(big), '400 px after the downgrade')
  t.equal((await get(small)).statusCode, 200, 'the 200 px link Basic still grants keeps working')
  await moveToTier(env, owner.id, 'Premium')
  passRightsCache()
  t.equal((await get(original)).statusCode, 200, 'back on Premium: the same original link opens again')
})

t.test('a tier is data: changing the tier row changes what opens', async (t) => {
  const owner = await userOnTier(env, 'Enterprise')
  const image = await seedImage(env, owner, { owed: [200, 400] })
  const original = signer.sign({ imageId: image.id, variant: 'original' })
  const big = signer.sign({ imageId: image.id, variant: 400 })
  t.equal((await get(original)).statusCode, 200)
  await env.database.db.updateTable('tiers').set({ original_link: false, thumbnail_heights: [200] }).where('name', '=', 'Enterprise').execute()
  t.teardown(() =>
    env.database.db.updateTable('tiers').set({ original_link: true, thumbnail_heights: [200, 400] }).where('name', '=', 'Enterprise').execute(),
  )
  passRightsCache()
  assertNotFound(t, await get(original), 'original after the tier row lost original_link')
  assertNotFound(t, await get(big), '400 px after the tier row lost 400')
})

t.test('a ready row whose object is missing from storage: 404, not 500', async (t) => {
  const image = await seedImage(env, premium, { owed: [200] })
  await env.storage.removeObjects([`thumbnails/${image.id}/200.jpg`])
  assertNotFound(t, await get(signer.sign({ imageId: image.id, variant: 200 })), 'thumbnail object gone')
})

t.test('failures reveal nothing and are not cached', async (t) => {
  const bodies = new Set<string>()
  const tokens = [
    'garbage',
    flip(signer.sign({ imageId: premiumImage.id, variant: 200 }), 2),
    signer.sign({ imageId: '00000000-0000-4000-8000-000000000000', variant: 200 }),
    signer.sign({ imageId: basicImage.id, variant: 'original' }),
    signer.sign({ imageId: basicImage.id, variant: 400 }),
  ]
  for (const token of tokens) {
    const response = await get(token)
    t.equal(response.statusCode, 404)
    bodies.add(response.body)
    t.equal(response.headers['cache-control'], 'no-store', `no-store on the 404 for ${token.slice(0, 20)}`)
  }
  t.equal(bodies.size, 1, 'one body for every reason')
})
