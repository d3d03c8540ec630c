import t from 'tap'
import { createHmac } from 'node:crypto'
import { FORMAT_TOKEN_CODES, type ServedFormat } from '@imageapi/media'
import { createLinkSigner, type LinkClaims } from '../src/index.js'
import { IMAGE_ID, LINK_ID, NOW, ringOf, SECRET_A } from './fixtures.js'

const signer = createLinkSigner(ringOf(`k1:${SECRET_A}`))
const FORMATS = Object.keys(FORMAT_TOKEN_CODES) as ServedFormat[]

/** The MAC exactly as token.ts computes it, written out independently: HMAC-SHA256 over context, kid and payload text, first 16 bytes. */
function macFor(keyId: string, payloadText: string): string {
  return createHmac('sha256', Buffer.from(SECRET_A, 'base64url'))
    .update(`imageapi/link-token:${keyId}.${payloadText}`)
    .digest()
    .subarray(0, 16)
    .toString('base64url')
}

/** A token for these payload bytes, with a MAC that verifies under k1. */
function signedPayload(payload: Buffer): string {
  const payloadText = payload.toString('base64url')
  return `k1.${payloadText}.${macFor('k1', payloadText)}`
}

function payloadOf(token: string): Buffer {
  return Buffer.from(token.split('.')[1]!, 'base64url')
}

/** The version-1 layout written out by hand, without going through token.ts or uuid.ts. */
function handMadePayload(variant: number, expiresAt: number, linkId?: string): Buffer {
  const variantBytes = Buffer.alloc(2)
  variantBytes.writeUInt16BE(variant)
  const expiresAtBytes = Buffer.alloc(4)
  expiresAtBytes.writeUInt32BE(expiresAt)
  return Buffer.concat([
    Buffer.from([1, linkId === undefined ? 0 : 0b01]),
    Buffer.from(IMAGE_ID.replaceAll('-', ''), 'hex'),
    variantBytes,
    expiresAtBytes,
    linkId === undefined ? Buffer.alloc(0) : Buffer.from(linkId.replaceAll('-', ''), 'hex'),
  ])
}

t.test('each format round-trips for a thumbnail variant, with and without linkId and expiresAt', async (t) => {
  const extras: Array<[string, Partial<LinkClaims>]> = [
    ['permanent', {}],
    ['with a link id', { linkId: LINK_ID }],
    ['with an expiry', { expiresAt: NOW + 60 }],
    ['with a link id and an expiry', { expiresAt: NOW + 60, linkId: LINK_ID }],
  ]
  for (const format of FORMATS) {
    for (const [name, extra] of extras) {
      const claims: LinkClaims = { imageId: IMAGE_ID, variant: 400, ...extra, format }
      const token = signer.sign(claims)
      t.match(token, /^k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/, `${format}, ${name}: URL-safe`)
      t.same(signer.verify(token, NOW), { ok: true, claims }, `${format}, ${name}: verifies to the same claims`)
      const payload = payloadOf(token)
      t.equal(payload.length, extra.linkId === undefined ? 25 : 41, `${format}, ${name}: one byte longer than without a format`)
      t.equal(payload[1], extra.linkId === undefined ? 0b10 : 0b11, `${format}, ${name}: the format flag is set`)
      t.equal(payload.at(-1), FORMAT_TOKEN_CODES[format], `${format}, ${name}: the last byte is the format's code`)
    }
  }
  const longest = signer.sign({ imageId: IMAGE_ID, variant: 65535, expiresAt: 0xffff_ffff, linkId: LINK_ID, format: 'avif' })
  t.equal(longest.length, 'k1'.length + 1 + 55 + 1 + 22, 'the longest payload is 55 characters')
})

t.test('a token signed without format is byte-identical to the old layout and decodes without a format key', async (t) => {
  const cases: Array<[string, LinkClaims, Buffer]> = [
    ['permanent original', { imageId: IMAGE_ID, variant: 'original' }, handMadePayload(0, 0)],
    ['permanent thumbnail', { imageId: IMAGE_ID, variant: 200 }, handMadePayload(200, 0)],
    ['expiring thumbnail', { imageId: IMAGE_ID, variant: 400, expiresAt: NOW + 3600 }, handMadePayload(400, NOW + 3600)],
    ['expiring thumbnail with a link id', { imageId: IMAGE_ID, variant: 400, expiresAt: NOW + 3600, linkId: LINK_ID }, handMadePayload(400, NOW + 3600, LINK_ID)],
  ]
  for (const [name, claims, payload] of cases) {
    const token = signer.sign(claims)
    t.same(payloadOf(token), payload, `${name}: same payload bytes`)
    t.equal(token, signedPayload(payload), `${name}: same token string`)
    const result = signer.verify(token, NOW)
    t.same(result, { ok: true, claims }, `${name}: verifies`)
    t.notOk(result.ok && 'format' in result.claims, `${name}: no format key in the decoded claims`)
    t.equal(signer.sign({ ...claims, format: undefined }), token, `${name}: an explicit undefined format changes nothing`)
  }
  // the exact first bytes for the fixture image, spelled out once
  t.same([...handMadePayload(200, 0).subarray(0, 6)], [0x01, 0x00, 0x0b, 0x9e, 0x6f, 0x2a])
})

t.test('changing the format byte of a signed token, keeping the old MAC, is bad_signature', async (t) => {
  for (const from of FORMATS) {
    const token = signer.sign({ imageId: IMAGE_ID, variant: 200, expiresAt: NOW + 60, linkId: LINK_ID, format: from })
    const [keyId, , mac] = token.split('.') as [string, string, string]
    for (const to of FORMATS.filter((f) => f !== from)) {
      const payload = payloadOf(token)
      payload[payload.length - 1] = FORMAT_TOKEN_CODES[to]
      t.same(signer.verify(`${keyId}.${payload.toString('base64url')}.${mac}`, NOW), { ok: false, reason: 'bad_signature' }, `${from} -> ${to}`)
    }
  }
})

t.test('a correctly re-MACed token with an unknown format code is malformed', async (t) => {
  const payload = payloadOf(signer.sign({ imageId: IMAGE_ID, variant: 200, format: 'png' }))
  // the test's MAC is token.ts's: a known code re-MACed the same way verifies
  payload[payload.length - 1] = FORMAT_TOKEN_CODES.webp
  t.same(signer.verify(signedPayload(payload), NOW), { ok: true, claims: { imageId: IMAGE_ID, variant: 200, format: 'webp' } }, 'known code 3, re-MACed')
  for (const code of [9, 0, 5, 255]) {
    payload[payload.length - 1] = code
    t.same(signer.verify(signedPayload(payload), NOW), { ok: false, reason: 'malformed' }, `code ${code}`)
  }
})

t.test('a correctly re-MACed format on the original is malformed, as sign never makes one', async (t) => {
  const payload = payloadOf(signer.sign({ imageId: IMAGE_ID, variant: 200, format: 'png' }))
  payload.writeUInt16BE(0, 18)
  t.same(signer.verify(signedPayload(payload), NOW), { ok: false, reason: 'malformed' })
})

t.test('sign throws for format on the original and for an unknown format string', async (t) => {
  for (const format of FORMATS) {
    t.throws(
      () => signer.sign({ imageId: IMAGE_ID, variant: 'original', format }),
      /sign: format is for thumbnails only \(an original is always served byte-exact\)/,
      `${format} on the original`,
    )
  }
  const unknown: Array<[unknown, RegExp]> = [
    ['gif', /sign: format must be one of png, jpeg, webp, avif, got "gif"/],
    ['PNG', /format must be one of .*, got "PNG"/],
    ['jpg', /format must be one of .*, got "jpg"/],
    ['', /format must be one of .*, got ""/],
    ['toString', /format must be one of .*, got "toString"/],
    [3, /format must be one of .*, got 3/],
    [null, /format must be one of .*, got null/],
  ]
  for (const [format, message] of unknown) {
    t.throws(() => signer.sign({ imageId: IMAGE_ID, variant: 200, format: format as ServedFormat }), message, JSON.stringify(format))
    t.throws(() => signer.sign({ imageId: IMAGE_ID, variant: 'original', format: format as ServedFormat }), /format must be one of/, `${JSON.stringify(format)} on the original`)
  }
})

t.test('setting the format flag without the trailing byte is malformed', async (t) => {
  const short = payloadOf(signer.sign({ imageId: IMAGE_ID, variant: 200 }))
  short[1] = 0b10
  t.equal(short.length, 24, 'one byte short of a format token')
  t.same(signer.verify(signedPayload(short), NOW), { ok: false, reason: 'malformed' }, 'without a link id')
  const shortWithLink = payloadOf(signer.sign({ imageId: IMAGE_ID, variant: 200, linkId: LINK_ID }))
  shortWithLink[1] = 0b11
  t.same(signer.verify(signedPayload(shortWithLink), NOW), { ok: false, reason: 'malformed' }, 'with a link id')
  const cut = payloadOf(signer.sign({ imageId: IMAGE_ID, variant: 200, linkId: LINK_ID, format: 'webp' })).subarray(0, -1)
  t.same(signer.verify(signedPayload(cut), NOW), { ok: false, reason: 'malformed' }, 'a format token with its last byte cut')
})

t.test('a trailing format byte without the flag is malformed', async (t) => {
  const long = payloadOf(signer.sign({ imageId: IMAGE_ID, variant: 200, format: 'webp' }))
  long[1] = 0
  t.same(signer.verify(signedPayload(long), NOW), { ok: false, reason: 'malformed' })
})
