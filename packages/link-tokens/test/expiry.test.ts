import t from 'tap'
import { createLinkSigner } from '../src/index.js'
import { expiringClaims, IMAGE_ID, ringOf, SECRET_A, SECRET_B } from './fixtures.js'

const signer = createLinkSigner(ringOf(`k1:${SECRET_A}`))
const expiresAt = expiringClaims.expiresAt!
const token = signer.sign(expiringClaims)

t.test('valid until the second before expiresAt', async (t) => {
  t.same(signer.verify(token, expiresAt - 1), { ok: true, claims: expiringClaims })
  t.same(signer.verify(token, expiresAt - 0.001).ok, true)
})

t.test('expired at expiresAt and after, with the verified claims', async (t) => {
  t.same(signer.verify(token, expiresAt), { ok: false, reason: 'expired', claims: expiringClaims })
  t.same(signer.verify(token, expiresAt + 86_400), { ok: false, reason: 'expired', claims: expiringClaims })
  t.same(signer.verify(token, Number.POSITIVE_INFINITY).ok, false)
})

t.test('a smallest expiry of 1 second', async (t) => {
  const early = signer.sign({ imageId: IMAGE_ID, variant: 'original', expiresAt: 1 })
  t.equal(signer.verify(early, 0).ok, true)
  t.same(signer.verify(early, 1), { ok: false, reason: 'expired', claims: { imageId: IMAGE_ID, variant: 'original', expiresAt: 1 } })
})

t.test('the signature is checked before expiry, so a forged expired token reveals no claims', async (t) => {
  const foreign = createLinkSigner(ringOf(`k1:${SECRET_B}`)).sign(expiringClaims)
  t.same(signer.verify(foreign, expiresAt + 1), { ok: false, reason: 'bad_signature' })
})

t.test('verify reads only the injected clock', async (t) => {
  // Far past and far future clocks decide alone; the machine's time plays no part.
  t.equal(signer.verify(token, 0).ok, true)
  t.equal(signer.verify(token, 2 ** 40).ok, false)
})

t.test('a missing or NaN clock is a caller bug and throws rather than failing open', async (t) => {
  t.throws(() => signer.verify(token, Number.NaN), TypeError)
  t.throws(() => signer.verify(token, undefined as unknown as number), /nowSeconds must be a number, got undefined/)
})
