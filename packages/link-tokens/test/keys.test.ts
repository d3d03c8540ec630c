import t from 'tap'
import { createSecretKey } from 'node:crypto'
import { createLinkSigner, generateSigningKey, MIN_SECRET_BYTES, parseSigningKeys, type SigningKey } from '../src/index.js'
import { SECRET_A, SECRET_B } from './fixtures.js'

t.test('parses a ring in order, first key first', async (t) => {
  const keys = parseSigningKeys(`k2:${SECRET_B},k1:${SECRET_A}`)
  t.same(keys.map((k) => k.id), ['k2', 'k1'])
  t.same(keys[0]!.secret.export(), Buffer.alloc(32, 0xb2))
  t.same(keys[1]!.secret.export(), Buffer.alloc(32, 0xa1))
})

t.test('accepts base64 and base64url, padded or not, and surrounding whitespace', async (t) => {
  const bytes = Buffer.from(Array.from({ length: 33 }, (_, i) => 0xf8 + (i % 8))) // exercises + / - _
  const forms = [bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('base64').replace(/=+$/, '')]
  const padded = Buffer.alloc(32, 0xfb).toString('base64')
  t.match(padded, /=$/)
  for (const secret of [...forms, padded]) {
    const [key] = parseSigningKeys(` A_b-9:${secret} \n`)
    t.equal(key!.id, 'A_b-9')
    t.ok(key!.secret.symmetricKeySize! >= 32, secret)
  }
  t.same(parseSigningKeys(`k:${forms[0]}`)[0]!.secret.export(), bytes)
})

t.test('accepts a 16-character key id', async (t) => {
  t.equal(parseSigningKeys(`${'k'.repeat(16)}:${SECRET_A}`)[0]!.id, 'k'.repeat(16))
})

t.test('names what is wrong', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['', /none given; expected "kid:secret/],
    ['   ', /none given/],
    [`k1:${SECRET_A},`, /entry 2 is empty/],
    [`k1:${SECRET_A},,k2:${SECRET_B}`, /entry 2 is empty/],
    [SECRET_A, /entry 1 has no ":"/],
    [`:${SECRET_A}`, /entry 1: key id "" is not 1-16 of/],
    [`k.1:${SECRET_A}`, /entry 1: key id "k\.1" is not/],
    [`${'k'.repeat(17)}:${SECRET_A}`, /key id of 17 characters is not/],
    [`k1:${SECRET_A},k1:${SECRET_B}`, /duplicate key id "k1" \(entry 2\)/],
    ['k1:', /entry 1 \(key "k1"\): secret is not valid base64/],
    ['k1:abc$def', /secret is not valid base64/],
    [`k1:${SECRET_A}==`, /secret is not valid base64/],
    [`k1:${SECRET_A}A=`, /secret is not valid base64/],
    [`k1:${'A'.repeat(41)}`, /secret is not valid base64/],
    [`k1:${Buffer.alloc(31).toString('base64')}`, /\(key "k1"\): secret decodes to 31 bytes, at least 32 are required/],
    [`k1:${SECRET_A},k2:c2hvcnQ=`, /entry 2 \(key "k2"\): secret decodes to 5 bytes/],
  ]
  for (const [spec, message] of cases) {
    t.throws(() => parseSigningKeys(spec), message, JSON.stringify(spec))
  }
  t.throws(() => parseSigningKeys(undefined as unknown as string), /none given/)
})

t.test('error messages never contain the secret', async (t) => {
  const secret = Buffer.alloc(20, 7).toString('base64')
  for (const spec of [`k1:${secret}`, `${secret}:k1`, `k1:${SECRET_A},k1:${SECRET_A}`]) {
    const error = t.throws(() => parseSigningKeys(spec)) as unknown as Error
    t.notMatch(error.message, secret)
    t.notMatch(error.message, SECRET_A)
  }
})

t.test('a parsed key ring does not print its secrets', async (t) => {
  const keys = parseSigningKeys(`k1:${SECRET_A}`)
  t.notMatch(JSON.stringify(keys), SECRET_A)
  t.notMatch(JSON.stringify(keys), Buffer.alloc(32, 0xa1).toString('hex'))
})

t.test('generateSigningKey gives distinct, parseable 32-byte secrets', async (t) => {
  const one = generateSigningKey()
  const two = generateSigningKey()
  t.not(one, two)
  t.match(one, /^[A-Za-z0-9_-]{43}$/)
  t.equal(parseSigningKeys(`k:${one}`)[0]!.secret.symmetricKeySize, MIN_SECRET_BYTES)
})

t.test('createLinkSigner refuses a ring parseSigningKeys would refuse', async (t) => {
  const good = createSecretKey(Buffer.alloc(32, 1))
  const cases: Array<[unknown, RegExp]> = [
    [[], /key ring is empty/],
    [undefined, /key ring is empty/],
    [[{ id: 'bad id', secret: good }], /key 1: key id "bad id" is not/],
    [[{ secret: good }], /key 1: key id undefined is not/],
    [[null], /key 1: key id undefined is not/],
    [[{ id: 'a', secret: good }, { id: 'a', secret: good }], /duplicate key id "a" \(key 2\)/],
    [[{ id: 'a', secret: createSecretKey(Buffer.alloc(16)) }], /key 1 \(key "a"\): secret must be a secret KeyObject of at least 32 bytes/],
    [[{ id: 'a', secret: Buffer.alloc(32) }], /secret must be a secret KeyObject/],
    [[{ id: 'a' }], /secret must be a secret KeyObject/],
  ]
  for (const [keys, message] of cases) {
    t.throws(() => createLinkSigner(keys as SigningKey[]), message)
  }
})
