import t from 'tap'
import fc from 'fast-check'
import { FORMAT_TOKEN_CODES, type ServedFormat } from '@imageapi/media'
import { createLinkSigner, type LinkClaims, type VerifyResult } from '../src/index.js'
import { NOW, ringOf, SECRET_A, SECRET_B } from './fixtures.js'

// k2 is a second known key, so a swapped kid reaches the MAC check instead of stopping at unknown_key.
const signer = createLinkSigner(ringOf(`k1:${SECRET_A},k2:${SECRET_B}`))
const RUNS = { numRuns: 1000 }

const claimsArbitrary: fc.Arbitrary<LinkClaims> = fc.record(
  {
    imageId: fc.uuid(),
    variant: fc.oneof(fc.constant('original' as const), fc.integer({ min: 1, max: 65535 })),
    expiresAt: fc.integer({ min: NOW + 1, max: 0xffff_ffff }),
    linkId: fc.uuid(),
    format: fc.constantFrom(...(Object.keys(FORMAT_TOKEN_CODES) as ServedFormat[])),
  },
  { requiredKeys: ['imageId', 'variant'] },
).map(({ format, ...claims }) => (format === undefined || claims.variant === 'original' ? claims : { ...claims, format }))
const tokenArbitrary = claimsArbitrary.map((claims) => signer.sign(claims))

/** The property every tampering case shares: a string other than the token never verifies, and verify never throws. */
function refuses(original: string, tampered: string): boolean {
  fc.pre(tampered !== original)
  const result: VerifyResult = signer.verify(tampered, NOW)
  return result.ok === false && result.claims === undefined
}

const tokenCharacter = fc.oneof(
  fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/%'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
)

t.test('every generated claim set round-trips', async () => {
  fc.assert(
    fc.property(claimsArbitrary, (claims) => {
      const result = signer.verify(signer.sign(claims), NOW)
      return result.ok && JSON.stringify(result.claims) === JSON.stringify({ ...claims, imageId: claims.imageId.toLowerCase(), ...(claims.linkId ? { linkId: claims.linkId.toLowerCase() } : {}) })
    }),
    RUNS,
  )
})

t.test('flipping bits in any byte of the token', async () => {
  fc.assert(
    fc.property(tokenArbitrary, fc.nat(), fc.integer({ min: 1, max: 255 }), (token, at, mask) => {
      const bytes = Buffer.from(token, 'latin1')
      const index = at % bytes.length
      bytes[index] = bytes[index]! ^ mask
      return refuses(token, bytes.toString('latin1'))
    }),
    RUNS,
  )
})

t.test('replacing any character', async () => {
  fc.assert(
    fc.property(tokenArbitrary, fc.nat(), tokenCharacter, (token, at, replacement) => {
      const index = at % token.length
      return refuses(token, token.slice(0, index) + replacement + token.slice(index + 1))
    }),
    RUNS,
  )
})

t.test('truncating from either end', async () => {
  fc.assert(
    fc.property(tokenArbitrary, fc.nat(), fc.boolean(), (token, at, fromEnd) => {
      const cut = (at % (token.length - 1)) + 1
      return refuses(token, fromEnd ? token.slice(0, token.length - cut) : token.slice(cut))
    }),
    RUNS,
  )
})

t.test('extending, prefixing or inserting', async () => {
  fc.assert(
    fc.property(tokenArbitrary, fc.nat(), fc.array(tokenCharacter, { minLength: 1, maxLength: 8 }), (token, at, extra) => {
      const index = at % (token.length + 1)
      return refuses(token, token.slice(0, index) + extra.join('') + token.slice(index))
    }),
    RUNS,
  )
})

t.test('swapping the key id', async () => {
  fc.assert(
    fc.property(tokenArbitrary, fc.oneof(fc.constantFrom('k2', 'K1', 'k1 ', 'k'), fc.stringMatching(/^[A-Za-z0-9_-]{1,16}$/)), (token, keyId) =>
      refuses(token, keyId + token.slice(token.indexOf('.'))),
    ),
    RUNS,
  )
  const token = signer.sign({ imageId: '0b9e6f2a-3c4d-4e5f-8a6b-7c8d9e0f1a2b', variant: 'original' })
  t.same(signer.verify(`k2${token.slice(2)}`, NOW), { ok: false, reason: 'bad_signature' })
})

t.test('swapping segments between valid tokens', async () => {
  fc.assert(
    fc.property(tokenArbitrary, tokenArbitrary, fc.integer({ min: 0, max: 2 }), (token, other, segment) => {
      const parts = token.split('.')
      parts[segment] = other.split('.')[segment]!
      return refuses(token, parts.join('.'))
    }),
    RUNS,
  )
})

const reencodings: Record<string, (token: string) => string> = {
  'standard base64 alphabet': (token) => token.replaceAll('-', '+').replaceAll('_', '/'),
  'padded segments': (token) => token.split('.').map((part, i) => (i === 0 ? part : part + '='.repeat((4 - (part.length % 4)) % 4))).join('.'),
  'padding even where none is due': (token) => token.split('.').map((part, i) => (i === 0 ? part : `${part}==`)).join('.'),
  'upper case': (token) => token.toUpperCase(),
  'lower case': (token) => token.toLowerCase(),
  'percent-encoded separators': (token) => token.replaceAll('.', '%2E'),
  'surrounding whitespace': (token) => ` ${token}\n`,
  'a trailing slash': (token) => `${token}/`,
}

for (const [name, reencode] of Object.entries(reencodings)) {
  t.test(`re-encoding: ${name}`, async () => {
    fc.assert(fc.property(tokenArbitrary, (token) => refuses(token, reencode(token))), RUNS)
  })
}

t.test('re-encoding: random case flips', async () => {
  fc.assert(
    fc.property(tokenArbitrary, fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), (token, positions) => {
      const characters = [...token]
      for (const at of positions) {
        const index = at % characters.length
        const c = characters[index]!
        characters[index] = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()
      }
      return refuses(token, characters.join(''))
    }),
    RUNS,
  )
})

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** The same bytes with different unused low bits in the last character: a spelling Node's lenient decoder accepts. */
function withDirtyTail(segment: string, bits: number): string {
  const last = BASE64URL_ALPHABET.indexOf(segment.at(-1)!)
  return segment.slice(0, -1) + BASE64URL_ALPHABET[last ^ bits]
}

t.test('re-encoding: non-canonical tail bits that decode to the same bytes', async (t) => {
  const token = signer.sign({ imageId: '0b9e6f2a-3c4d-4e5f-8a6b-7c8d9e0f1a2b', variant: 200, expiresAt: NOW + 10, linkId: 'f47ac10b-58cc-4372-a567-0e02b2c3d479' })
  const [keyId, payload, mac] = token.split('.') as [string, string, string]
  // The 22-character MAC has 2 spare bits; the 54-character payload (40 bytes) has 4.
  for (const bits of [1, 2, 3]) {
    const dirtyMac = withDirtyTail(mac, bits)
    t.same(Buffer.from(dirtyMac, 'base64url'), Buffer.from(mac, 'base64url'), 'Node decodes it to the same MAC')
    t.same(signer.verify(`${keyId}.${payload}.${dirtyMac}`, NOW), { ok: false, reason: 'malformed' })
  }
  for (const bits of [1, 8, 15]) {
    const dirtyPayload = withDirtyTail(payload, bits)
    t.same(Buffer.from(dirtyPayload, 'base64url'), Buffer.from(payload, 'base64url'), 'Node decodes it to the same payload')
    t.same(signer.verify(`${keyId}.${dirtyPayload}.${mac}`, NOW), { ok: false, reason: 'malformed' })
  }
  t.same(Buffer.from(`${mac}==`, 'base64url'), Buffer.from(mac, 'base64url'), 'Node ignores padding too')
})
