import t from 'tap'
import { createLinkSigner } from '../src/index.js'
import { expiringClaims, NOW, permanentClaims, ringOf, SECRET_A, SECRET_B } from './fixtures.js'

const oldRing = createLinkSigner(ringOf(`k1:${SECRET_A}`))
const rotated = createLinkSigner(ringOf(`k2:${SECRET_B},k1:${SECRET_A}`))
const oldKeyRemoved = createLinkSigner(ringOf(`k2:${SECRET_B}`))

t.test('a token of the old key verifies while the old key is still in the ring', async (t) => {
  const token = oldRing.sign(expiringClaims)
  t.same(rotated.verify(token, NOW), { ok: true, claims: expiringClaims })
})

t.test('new tokens are signed with the first key', async (t) => {
  const token = rotated.sign(permanentClaims)
  t.ok(token.startsWith('k2.'))
  t.same(oldKeyRemoved.verify(token, NOW), { ok: true, claims: permanentClaims })
  t.same(oldRing.verify(token, NOW), { ok: false, reason: 'unknown_key' }, 'a ring without k2 does not know it')
})

t.test('a token of a removed key is unknown_key', async (t) => {
  t.same(oldKeyRemoved.verify(oldRing.sign(permanentClaims), NOW), { ok: false, reason: 'unknown_key' })
})

t.test('the same key id with another secret is bad_signature', async (t) => {
  const impostor = createLinkSigner(ringOf(`k1:${SECRET_B}`))
  t.same(oldRing.verify(impostor.sign(permanentClaims), NOW), { ok: false, reason: 'bad_signature' })
})

t.test('the key id is covered by the MAC, even between keys sharing a secret', async (t) => {
  const sharing = createLinkSigner(ringOf(`a:${SECRET_A},b:${SECRET_A}`))
  const token = sharing.sign(permanentClaims)
  t.same(sharing.verify(token, NOW).ok, true)
  t.same(sharing.verify(`b${token.slice(1)}`, NOW), { ok: false, reason: 'bad_signature' })
})
