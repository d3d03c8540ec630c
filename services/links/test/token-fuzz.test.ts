import t from 'tap'
import fc from 'fast-check'
import { buildLinksHarness, NOT_FOUND_BODY, seedImage, userOnTier, viewPath } from './helpers/links-fixture.js'

// Property: no mutation of a valid token opens anything; each one gets the same 404 body.
const { app, env, signer, clock } = await buildLinksHarness(t)
const owner = await userOnTier(env, 'Enterprise')
const image = await seedImage(env, owner, { owed: [200, 400] })
const expiresAt = clock.seconds() + 3600
const row = await env.repos.links.create({ imageId: image.id, variant: '400', expiresAt: new Date(expiresAt * 1000) })
const tokens = {
  thumbnail: signer.sign({ imageId: image.id, variant: 200 }),
  original: signer.sign({ imageId: image.id, variant: 'original' }),
  expiring: signer.sign({ imageId: image.id, variant: 400, expiresAt, linkId: row.id }),
}
const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 150)

/** Percent-encodes every byte that is not unreserved, so any byte string can travel in the path. */
function encodeBytes(bytes: Buffer): string {
  let out = ''
  for (const byte of bytes) {
    const c = String.fromCharCode(byte)
    out += /[A-Za-z0-9._~-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

type Mutation =
  | { kind: 'flip'; index: number; xor: number }
  | { kind: 'truncate'; length: number }
  | { kind: 'append'; text: string }
  | { kind: 'insert'; index: number; text: string }
  | { kind: 'delete'; index: number }
  | { kind: 'swap'; index: number; char: string }

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'

/** Mutations that keep the token within the characters tokens are made of, plus any ASCII printable. */
const textMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), length: fc.nat({ max: 120 }) }),
  fc.record({ kind: fc.constant('append' as const), text: fc.string({ minLength: 1, maxLength: 6, unit: fc.constantFrom(...BASE64URL) }) }),
  fc.record({ kind: fc.constant('insert' as const), index: fc.nat({ max: 120 }), text: fc.string({ minLength: 1, maxLength: 3, unit: fc.constantFrom(...BASE64URL) }) }),
  fc.record({ kind: fc.constant('delete' as const), index: fc.nat({ max: 120 }) }),
  fc.record({ kind: fc.constant('swap' as const), index: fc.nat({ max: 120 }), char: fc.constantFrom(...BASE64URL) }),
)

/** Raw byte flips: any of the 8 bits of any byte, which may leave the ASCII range altogether. */
const byteFlip: fc.Arbitrary<Mutation> = fc.record({ kind: fc.constant('flip' as const), index: fc.nat({ max: 120 }), xor: fc.integer({ min: 1, max: 255 }) })

function mutate(token: string, m: Mutation): string | undefined {
  const at = (i: number) => i % (token.length + (m.kind === 'insert' ? 1 : 0))
  switch (m.kind) {
    case 'truncate':
      return token.slice(0, m.length % token.length)
    case 'append':
      return encodeURIComponent(token + m.text)
    case 'insert': {
      const i = at(m.index)
      return encodeURIComponent(token.slice(0, i) + m.text + token.slice(i))
    }
    case 'delete': {
      const i = at(m.index)
      return token.slice(0, i) + token.slice(i + 1)
    }
    case 'swap': {
      const i = at(m.index)
      if (token[i] === m.char) return undefined // not a mutation
      return token.slice(0, i) + m.char + token.slice(i + 1)
    }
    case 'flip': {
      const bytes = Buffer.from(token, 'latin1')
      const i = at(m.index)
      bytes[i] = bytes[i]! ^ m.xor
      return encodeBytes(bytes)
    }
  }
}

const tokenName = fc.constantFrom(...(Object.keys(tokens) as Array<keyof typeof tokens>))

t.test('the unmutated tokens open (so a 404 below is the mutation’s doing)', async (t) => {
  for (const [name, token] of Object.entries(tokens)) {
    t.equal((await app.inject({ method: 'GET', url: viewPath(token) })).statusCode, 200, name)
  }
})

t.test('truncated, extended, edited tokens (token alphabet): always 404 {"detail":"Not found."}', async (t) => {
  const seen: Record<number, number> = {}
  await fc.assert(
    fc.asyncProperty(tokenName, textMutation, async (name, mutation) => {
      const mutated = mutate(tokens[name], mutation)
      fc.pre(mutated !== undefined && mutated !== tokens[name])
      const response = await app.inject({ method: 'GET', url: viewPath(mutated!) })
      seen[response.statusCode] = (seen[response.statusCode] ?? 0) + 1
      return response.statusCode === 404 && response.body === JSON.stringify(NOT_FOUND_BODY)
    }),
    { numRuns: NUM_RUNS },
  )
  t.same(Object.keys(seen), ['404'], `statuses seen: ${JSON.stringify(seen)}`)
})

t.test('random byte flips (any byte value, percent-encoded): never 200, always 404', async (t) => {
  const seen: Record<number, number> = {}
  const examples: Record<number, string> = {}
  await fc.assert(
    fc.asyncProperty(tokenName, byteFlip, async (name, mutation) => {
      const mutated = mutate(tokens[name], mutation)!
      const response = await app.inject({ method: 'GET', url: viewPath(mutated) })
      seen[response.statusCode] = (seen[response.statusCode] ?? 0) + 1
      if (response.statusCode !== 404) examples[response.statusCode] ??= `${mutated} → ${response.body.slice(0, 120)}`
      return response.statusCode !== 200 && response.statusCode < 500
    }),
    { numRuns: NUM_RUNS },
  )
  t.pass(`never 200, never 5xx over ${NUM_RUNS} flips`)
  // a flip to a byte ≥ 0x80 is an invalid UTF-8 escape in the path: the router answers before the route
  t.same(Object.keys(seen), ['404'], `always 404: statuses seen ${JSON.stringify(seen)}, e.g. ${JSON.stringify(examples)}`)
})

t.test('validly signed tokens for random image ids and heights: 404', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.uuid(), fc.oneof(fc.constant('original' as const), fc.integer({ min: 1, max: 65535 })), async (imageId, variant) => {
      fc.pre(imageId !== image.id)
      const response = await app.inject({ method: 'GET', url: viewPath(signer.sign({ imageId, variant })) })
      return response.statusCode === 404
    }),
    { numRuns: 40 },
  )
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 65535 }), async (variant) => {
      fc.pre(variant !== 200 && variant !== 400)
      const response = await app.inject({ method: 'GET', url: viewPath(signer.sign({ imageId: image.id, variant })) })
      return response.statusCode === 404
    }),
    { numRuns: 40 },
  )
  t.pass('no signed claim outside what the rows grant opened')
})
