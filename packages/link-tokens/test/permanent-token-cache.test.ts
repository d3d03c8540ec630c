import t from 'tap'
import { randomUUID } from 'node:crypto'
import { createLinkSigner, memoizePermanentTokens, type LinkClaims, type LinkSigner } from '../src/index.js'
import { expiringClaims, NOW, permanentClaims, ringOf, SECRET_A, SECRET_B } from './fixtures.js'

/** A signer that counts what it signs, to tell a remembered token from a signed one. */
function countingSigner(ring: string): LinkSigner & { signed: LinkClaims[] } {
  const signer = createLinkSigner(ringOf(ring))
  const signed: LinkClaims[] = []
  return {
    signed,
    sign(claims) {
      signed.push(claims)
      return signer.sign(claims)
    },
    verify: (token, now) => signer.verify(token, now),
  }
}

t.test('a remembered token is the one a fresh signer makes, for every variant', async (t) => {
  const inner = countingSigner(`k1:${SECRET_A}`)
  const memoized = memoizePermanentTokens(inner, { maxEntries: 100 })
  const fresh = createLinkSigner(ringOf(`k1:${SECRET_A}`))
  const imageId = randomUUID()
  for (const variant of ['original', 200, 400] as const) {
    const first = memoized.sign({ imageId, variant })
    const again = memoized.sign({ imageId, variant })
    t.equal(first, fresh.sign({ imageId, variant }), `${variant}: as signed afresh`)
    t.equal(again, first, `${variant}: the same string from the cache`)
    t.same(memoized.verify(again, NOW), { ok: true, claims: { imageId, variant } })
  }
  t.equal(inner.signed.length, 3, 'one signature per link, however often it is asked for')
  t.equal(memoized.sign({ imageId, variant: 200, expiresAt: 0 }), fresh.sign({ imageId, variant: 200 }), 'an expiry of 0 is no expiry')
  t.equal(inner.signed.length, 3)
})

t.test('links pinned to a format are remembered apart from each other and from the unpinned link', async (t) => {
  const inner = countingSigner(`k1:${SECRET_A}`)
  const memoized = memoizePermanentTokens(inner, { maxEntries: 100 })
  const fresh = createLinkSigner(ringOf(`k1:${SECRET_A}`))
  const imageId = randomUUID()
  const formats = [undefined, 'png', 'jpeg', 'webp', 'avif'] as const
  for (const format of formats) memoized.sign({ imageId, variant: 200, ...(format && { format }) })
  for (const format of formats) {
    const claims: LinkClaims = { imageId, variant: 200, ...(format && { format }) }
    const token = memoized.sign(claims)
    t.equal(token, fresh.sign(claims), `${format ?? 'no format'}: its own token`)
    t.same(memoized.verify(token, NOW), { ok: true, claims })
  }
  t.equal(inner.signed.length, formats.length, 'one signature per format')
  t.throws(() => memoized.sign({ imageId, variant: 200, format: 'gif' as 'png' }), /format/, 'an unknown format still throws')
  t.throws(() => memoized.sign({ imageId, variant: 'original', format: 'png' }), /format/, 'as does a format on the original')
})

t.test('expiring links are signed every time', async (t) => {
  const inner = countingSigner(`k1:${SECRET_A}`)
  const memoized = memoizePermanentTokens(inner, { maxEntries: 100 })
  const token = memoized.sign(expiringClaims)
  t.equal(memoized.sign(expiringClaims), token)
  t.equal(inner.signed.length, 2)
  t.same(memoized.verify(token, NOW), { ok: true, claims: expiringClaims })
  const withLinkOnly = { ...permanentClaims, linkId: expiringClaims.linkId! }
  memoized.sign(withLinkOnly)
  memoized.sign(withLinkOnly)
  t.equal(inner.signed.length, 4, 'a link row makes a link revocable: not cached either')
})

t.test('a key rotation (a new ring, so a new signer) gives new tokens, which the ring verifies', async (t) => {
  const before = memoizePermanentTokens(createLinkSigner(ringOf(`k1:${SECRET_A}`)), { maxEntries: 100 })
  const after = memoizePermanentTokens(createLinkSigner(ringOf(`k2:${SECRET_B},k1:${SECRET_A}`)), { maxEntries: 100 })
  const old = before.sign(permanentClaims)
  const rotated = after.sign(permanentClaims)
  t.not(rotated, old)
  t.ok(rotated.startsWith('k2.'))
  t.same(after.verify(rotated, NOW), { ok: true, claims: permanentClaims })
  t.same(after.verify(old, NOW), { ok: true, claims: permanentClaims }, 'old links keep working while k1 is in the ring')
  const sameIdNewSecret = memoizePermanentTokens(createLinkSigner(ringOf(`k1:${SECRET_B}`)), { maxEntries: 100 })
  t.not(sameIdNewSecret.sign(permanentClaims), old, 'a new secret under the same key id signs anew')
})

t.test('the cache is bounded and drops the least recently used token first', async (t) => {
  const inner = countingSigner(`k1:${SECRET_A}`)
  const memoized = memoizePermanentTokens(inner, { maxEntries: 2 })
  const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()].map((imageId): LinkClaims => ({ imageId, variant: 200 }))
  memoized.sign(a!)
  memoized.sign(b!)
  memoized.sign(a!) // a is now the most recently used
  memoized.sign(c!) // evicts b
  t.equal(inner.signed.length, 3)
  memoized.sign(a!)
  memoized.sign(c!)
  t.equal(inner.signed.length, 3, 'a and c still remembered')
  memoized.sign(b!)
  t.equal(inner.signed.length, 4, 'b was dropped and is signed again')
})

t.test('bad claims still throw, also after a valid twin was remembered', async (t) => {
  const memoized = memoizePermanentTokens(createLinkSigner(ringOf(`k1:${SECRET_A}`)), { maxEntries: 100 })
  const imageId = randomUUID()
  memoized.sign({ imageId, variant: 200 })
  t.throws(() => memoized.sign({ imageId, variant: '200' as unknown as number }), /variant/)
  t.throws(() => memoized.sign({ imageId, variant: 200.5 }), /variant/)
  t.throws(() => memoized.sign({ imageId: 'not-a-uuid', variant: 200 }), /imageId/)
  t.throws(() => memoized.sign({ imageId: 'not-a-uuid', variant: 200 }), /imageId/, 'and is not remembered')
  t.throws(() => memoized.sign({ imageId, variant: 200, expiresAt: Number.NaN }), /expiresAt/)
  t.throws(() => memoized.sign(null as unknown as LinkClaims), /claims/)
})
