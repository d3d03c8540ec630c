import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto'

/** Key ids are written into every token, so they are short and URL-safe; they never contain the token's `.` separator. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,16}$/
const KEY_ID_MAX_LENGTH = 16

/** HMAC-SHA256 gains nothing from keys over its block size, and keys under its output size (32 bytes) weaken it. */
export const MIN_SECRET_BYTES = 32

export interface SigningKey {
  readonly id: string
  /**
   * Held as a KeyObject rather than a Buffer so that logging or JSON-serialising
   * a config object that contains the key ring never prints the secret.
   */
  readonly secret: KeyObject
}

const SPEC_SHAPE = 'expected "kid:secret[,kid:secret...]" where kid is 1-16 of [A-Za-z0-9_-] and secret is base64 or base64url'

/**
 * Parses a key ring from an environment value such as `k2:SECRET,k1:SECRET`.
 * The first key signs new tokens; every key verifies, so a rotation is: put the
 * new key first, keep the old one until the links it signed have expired or are
 * no longer wanted, then drop it.
 *
 * Throws an Error naming the entry and what is wrong with it. Messages never
 * include a secret, since they end up in logs.
 */
export function parseSigningKeys(spec: string): SigningKey[] {
  if (typeof spec !== 'string' || spec.trim() === '') {
    throw new Error(`Invalid signing keys: none given; ${SPEC_SHAPE}`)
  }
  const keys: SigningKey[] = []
  spec.split(',').forEach((rawEntry, index) => {
    const entry = rawEntry.trim()
    const where = `entry ${index + 1}`
    if (entry === '') throw new Error(`Invalid signing keys: ${where} is empty (stray comma?); ${SPEC_SHAPE}`)
    const colon = entry.indexOf(':')
    if (colon < 0) throw new Error(`Invalid signing keys: ${where} has no ":" between key id and secret; ${SPEC_SHAPE}`)
    const id = entry.slice(0, colon)
    checkKeyId(id, where)
    const secretBytes = decodeSecret(entry.slice(colon + 1))
    if (secretBytes === undefined) {
      throw new Error(`Invalid signing keys: ${where} (key "${id}"): secret is not valid base64 or base64url`)
    }
    if (secretBytes.length < MIN_SECRET_BYTES) {
      throw new Error(
        `Invalid signing keys: ${where} (key "${id}"): secret decodes to ${secretBytes.length} bytes, ` +
          `at least ${MIN_SECRET_BYTES} are required (generate one with generateSigningKey())`,
      )
    }
    if (keys.some((key) => key.id === id)) {
      throw new Error(`Invalid signing keys: duplicate key id "${id}" (${where}); each key id must be unique`)
    }
    keys.push({ id, secret: createSecretKey(secretBytes) })
  })
  return keys
}

/**
 * Checks a key ring built by hand (not by parseSigningKeys) with the same rules,
 * so a signer can never be created from a ring that parseSigningKeys would refuse.
 */
export function assertValidKeyRing(keys: readonly SigningKey[]): void {
  if (!Array.isArray(keys) || keys.length === 0) throw new Error('Invalid signing keys: the key ring is empty')
  const seen = new Set<string>()
  keys.forEach((key, index) => {
    const where = `key ${index + 1}`
    checkKeyId(key?.id, where)
    if (seen.has(key.id)) throw new Error(`Invalid signing keys: duplicate key id "${key.id}" (${where})`)
    seen.add(key.id)
    const secret = key.secret as KeyObject | undefined
    const secretBytes = secret?.type === 'secret' ? secret.symmetricKeySize : undefined
    if (secretBytes === undefined || secretBytes < MIN_SECRET_BYTES) {
      throw new Error(
        `Invalid signing keys: ${where} (key "${key.id}"): secret must be a secret KeyObject of at least ${MIN_SECRET_BYTES} bytes`,
      )
    }
  })
}

/** A fresh random secret (32 bytes, base64url) for the `kid:secret` key spec. */
export function generateSigningKey(): string {
  return randomBytes(MIN_SECRET_BYTES).toString('base64url')
}

function checkKeyId(id: unknown, where: string): asserts id is string {
  if (typeof id === 'string' && KEY_ID_PATTERN.test(id)) return
  // A long "key id" is likely a secret written before the colon: describe it without echoing it.
  const shown =
    typeof id !== 'string' ? typeof id : id.length > KEY_ID_MAX_LENGTH ? `of ${id.length} characters` : JSON.stringify(id)
  throw new Error(`Invalid signing keys: ${where}: key id ${shown} is not 1-16 of [A-Za-z0-9_-]`)
}

/**
 * Decodes a secret written in base64 or base64url, padded or not. Node's own
 * decoder silently skips characters it does not know, which would turn a typo
 * into a shorter secret; this one refuses them instead.
 */
function decodeSecret(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return undefined
  const unpadded = text.replace(/=+$/, '')
  if (unpadded.length !== text.length && text.length % 4 !== 0) return undefined
  if (unpadded.length % 4 === 1) return undefined
  return Buffer.from(unpadded.replaceAll('+', '-').replaceAll('/', '_'), 'base64url')
}
