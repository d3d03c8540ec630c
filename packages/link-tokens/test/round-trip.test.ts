import t from 'tap'
import { createLinkSigner, type LinkClaims } from '../src/index.js'
import { expiringClaims, IMAGE_ID, LINK_ID, NOW, permanentClaims, ringOf, SECRET_A } from './fixtures.js'

const signer = createLinkSigner(ringOf(`k1:${SECRET_A}`))

const cases: Array<[string, LinkClaims]> = [
  ['permanent original', permanentClaims],
  ['permanent thumbnail', { imageId: IMAGE_ID, variant: 200 }],
  ['permanent with a link id', { imageId: IMAGE_ID, variant: 'original', linkId: LINK_ID }],
  ['expiring without a link id', { imageId: IMAGE_ID, variant: 1, expiresAt: NOW + 60 }],
  ['expiring with a link id', expiringClaims],
  ['largest height and latest expiry', { imageId: IMAGE_ID, variant: 65535, expiresAt: 0xffff_ffff, linkId: LINK_ID }],
]

for (const [name, claims] of cases) {
  t.test(`round trip: ${name}`, async (t) => {
    const token = signer.sign(claims)
    t.match(token, /^k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/, 'URL-safe, unpadded, 16-byte MAC')
    t.same(signer.verify(token, NOW), { ok: true, claims })
  })
}

t.test('token size stays compact', async (t) => {
  t.equal(signer.sign(permanentClaims).length, 'k1'.length + 1 + 32 + 1 + 22)
  t.equal(signer.sign(expiringClaims).length, 'k1'.length + 1 + 54 + 1 + 22)
})

t.test('uppercase UUIDs come back lowercase', async (t) => {
  const token = signer.sign({ imageId: IMAGE_ID.toUpperCase(), variant: 'original', linkId: LINK_ID.toUpperCase() })
  t.same(signer.verify(token, NOW), { ok: true, claims: { imageId: IMAGE_ID, variant: 'original', linkId: LINK_ID } })
})

t.test('expiresAt 0 means never and is omitted from the verified claims', async (t) => {
  const token = signer.sign({ imageId: IMAGE_ID, variant: 'original', expiresAt: 0 })
  t.equal(token, signer.sign(permanentClaims))
  t.same(signer.verify(token, 2 ** 40), { ok: true, claims: permanentClaims })
})

t.test('signing is deterministic and claims-sensitive', async (t) => {
  t.equal(signer.sign(expiringClaims), signer.sign({ ...expiringClaims }))
  t.not(signer.sign(expiringClaims), signer.sign({ ...expiringClaims, variant: 401 }))
})

t.test('sign rejects invalid claims with a message naming the field', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [{ ...permanentClaims, imageId: 'not-a-uuid' }, /imageId is not a UUID: "not-a-uuid"/],
    [{ ...permanentClaims, imageId: IMAGE_ID.replaceAll('-', '') }, /imageId is not a UUID/],
    [{ ...permanentClaims, imageId: undefined }, /imageId is not a UUID: undefined/],
    [{ ...permanentClaims, imageId: 'x'.repeat(100) }, /imageId is not a UUID: "x{40}"…/],
    [{ ...permanentClaims, linkId: 'nope' }, /linkId is not a UUID/],
    [{ ...permanentClaims, variant: 0 }, /variant must be 'original' or a height from 1 to 65535, got 0/],
    [{ ...permanentClaims, variant: 65536 }, /variant/],
    [{ ...permanentClaims, variant: 1.5 }, /variant.*got 1\.5/],
    [{ ...permanentClaims, variant: 'thumb' }, /variant.*got "thumb"/],
    [{ ...permanentClaims, variant: null }, /variant.*got null/],
    [{ ...permanentClaims, expiresAt: -1 }, /expiresAt must be whole unix seconds/],
    [{ ...permanentClaims, expiresAt: 1.5 }, /expiresAt/],
    [{ ...permanentClaims, expiresAt: 2 ** 32 }, /expiresAt/],
    [{ ...permanentClaims, expiresAt: Number.NaN }, /expiresAt.*NaN/],
    [null, /claims must be an object/],
    ['claims', /claims must be an object/],
  ]
  for (const [claims, message] of bad) {
    t.throws(() => signer.sign(claims as LinkClaims), message, JSON.stringify(claims) ?? String(claims))
  }
})
