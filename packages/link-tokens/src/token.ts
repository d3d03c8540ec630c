import { createHmac, timingSafeEqual } from 'node:crypto'
import { FORMAT_TOKEN_CODES, isServedFormat, type ServedFormat } from '@imageapi/media'
import { assertValidKeyRing, KEY_ID_PATTERN, type SigningKey } from './keys.js'
import { describeValue } from './describe-value.js'
import { bytesToUuid, isUuid, UUID_BYTE_LENGTH, uuidToBytes } from './uuid.js'

/** What a view link grants: one variant of one image, possibly until a time, possibly tied to a revocable link row. */
export interface LinkClaims {
  /** UUID of the image; verify returns it lowercase. */
  imageId: string
  /** The original file, or the thumbnail of this height in pixels (1-65535). */
  variant: 'original' | number
  /** Unix seconds at which the link stops working; absent (or 0 when signing) for a link that never expires. */
  expiresAt?: number
  /** UUID of the expiring-link row, checked for revocation; absent for permanent links. */
  linkId?: string
  /**
   * The one format a thumbnail link opens (for `<picture>`/srcset and CDNs that ignore Vary);
   * absent for a link whose format is negotiated. Never set for the original, which is always
   * served byte-exact.
   */
  format?: ServedFormat
}

export type VerifyFailureReason = 'malformed' | 'unknown_key' | 'bad_signature' | 'expired'

export type VerifyResult =
  | { ok: true; claims: LinkClaims }
  /** Only an expired token carries claims, and only once its signature has verified. */
  | { ok: false; reason: 'expired'; claims: LinkClaims }
  | { ok: false; reason: Exclude<VerifyFailureReason, 'expired'>; claims?: undefined }

export interface LinkSigner {
  /** A URL-safe token for the claims, signed with the first key of the ring. Throws on invalid claims. */
  sign(claims: LinkClaims): string
  /**
   * Checks, in this order: shape, key id, signature, expiry (`nowSeconds >= expiresAt`
   * is expired). Never throws on any token; the clock is the caller's so that
   * services and tests control time.
   */
  verify(token: string, nowSeconds: number): VerifyResult
}

/**
 * Longest token verify will look at. Real tokens are under 100 characters
 * (at most 16 kid + 55 payload, with a link id and a format, + 22 MAC + 2 dots);
 * the cap keeps a hostile URL from costing more than a constant amount of work.
 */
export const MAX_TOKEN_LENGTH = 512

/** Format version, the payload's first byte; a new layout gets a new number and old tokens keep verifying or are refused explicitly. */
export const TOKEN_FORMAT_VERSION = 1

/**
 * The HMAC-SHA256 output is cut to 16 bytes to keep URLs short. That is safe:
 * HMAC truncation is sanctioned down to half the hash length (RFC 2104 §5,
 * NIST SP 800-107), and a forger must guess a 128-bit tag with one HTTP request
 * per guess (2^-128 each), while the key itself stays 256-bit and unrecoverable.
 */
export const MAC_BYTES = 16

/**
 * Prefixed to every MAC input so a tag made here can never pass for one made by
 * any other use of the same secret (cookies, webhooks), should a key be reused.
 */
const MAC_CONTEXT = 'imageapi/link-token:'

const FLAG_HAS_LINK_ID = 0b0000_0001
/** Added within version 1: tokens without it are byte for byte what they were before; older verifiers refuse it as an unknown flag. */
const FLAG_HAS_FORMAT = 0b0000_0010
const KNOWN_FLAGS = FLAG_HAS_LINK_ID | FLAG_HAS_FORMAT

// Payload layout, all integers big-endian:
//   [0] version  [1] flags  [2..17] image id  [18..19] variant (0 = original)
//   [20..23] expiresAt (unix seconds, 0 = never)  [24..39] link id, only if FLAG_HAS_LINK_ID
//   then, only if FLAG_HAS_FORMAT, one last byte: the format's code (FORMAT_TOKEN_CODES),
//   at [24] without a link id, at [40] with one
// so a payload is 24, 25, 40 or 41 bytes long, as its flags say.
const OFFSET_FLAGS = 1
const OFFSET_IMAGE_ID = 2
const OFFSET_VARIANT = OFFSET_IMAGE_ID + UUID_BYTE_LENGTH
const OFFSET_EXPIRES_AT = OFFSET_VARIANT + 2
const OFFSET_LINK_ID = OFFSET_EXPIRES_AT + 4
const PAYLOAD_BYTES_FIXED = OFFSET_LINK_ID
const FORMAT_BYTES = 1

const FORMATS_BY_TOKEN_CODE: ReadonlyMap<number, ServedFormat> = new Map(
  Object.entries(FORMAT_TOKEN_CODES).map(([format, code]) => [code, format as ServedFormat]),
)
const KNOWN_FORMATS = Object.keys(FORMAT_TOKEN_CODES).join(', ')

const VARIANT_ORIGINAL = 0
const MAX_VARIANT_HEIGHT = 0xffff
/** expiresAt is stored in 32 bits: the last representable second is in the year 2106. */
const MAX_EXPIRES_AT = 0xffff_ffff

const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/

/**
 * Creates a signer over a key ring (from parseSigningKeys). The first key signs;
 * every key verifies. Throws if the ring is empty or invalid.
 */
export function createLinkSigner(keys: readonly SigningKey[]): LinkSigner {
  assertValidKeyRing(keys)
  const signingKey = keys[0]!
  const keysById = new Map(keys.map((key) => [key.id, key]))

  return {
    sign(claims) {
      const payloadText = encodeBase64url(encodePayload(claims))
      const mac = computeMac(signingKey, payloadText)
      return `${signingKey.id}.${payloadText}.${encodeBase64url(mac)}`
    },

    verify(token, nowSeconds) {
      // A NaN or missing clock would make every expiring link look unexpired: fail loudly
      // instead. This is the caller's bug, not something a token can cause.
      if (typeof nowSeconds !== 'number' || Number.isNaN(nowSeconds)) {
        throw new TypeError(`verify: nowSeconds must be a number, got ${describeValue(nowSeconds)}`)
      }
      const parsed = parseToken(token)
      if (parsed === undefined) return { ok: false, reason: 'malformed' }
      const key = keysById.get(parsed.keyId)
      if (key === undefined) return { ok: false, reason: 'unknown_key' }
      // Both sides are MAC_BYTES long (parseToken checked), as timingSafeEqual requires.
      if (!timingSafeEqual(computeMac(key, parsed.payloadText), parsed.mac)) {
        return { ok: false, reason: 'bad_signature' }
      }
      const { claims } = parsed
      if (claims.expiresAt !== undefined && nowSeconds >= claims.expiresAt) {
        return { ok: false, reason: 'expired', claims }
      }
      return { ok: true, claims }
    },
  }
}

function computeMac(key: SigningKey, payloadText: string): Buffer {
  // The key id is inside the MAC so a token cannot be re-labelled to another key,
  // even one that happens to share a secret.
  return createHmac('sha256', key.secret)
    .update(`${MAC_CONTEXT}${key.id}.${payloadText}`)
    .digest()
    .subarray(0, MAC_BYTES)
}

function encodePayload(claims: LinkClaims): Buffer {
  if (claims === null || typeof claims !== 'object') throw new Error('sign: claims must be an object')
  const { imageId, variant, expiresAt, linkId, format } = claims
  if (!isUuid(imageId)) throw new Error(`sign: imageId is not a UUID: ${describeValue(imageId)}`)
  if (linkId !== undefined && !isUuid(linkId)) throw new Error(`sign: linkId is not a UUID: ${describeValue(linkId)}`)
  const variantCode = encodeVariant(variant)
  if (expiresAt !== undefined && !(Number.isInteger(expiresAt) && expiresAt >= 0 && expiresAt <= MAX_EXPIRES_AT)) {
    throw new Error(`sign: expiresAt must be whole unix seconds from 0 to ${MAX_EXPIRES_AT}, got ${describeValue(expiresAt)}`)
  }
  if (format !== undefined) {
    if (typeof format !== 'string' || !isServedFormat(format)) {
      throw new Error(`sign: format must be one of ${KNOWN_FORMATS}, got ${describeValue(format)}`)
    }
    if (variantCode === VARIANT_ORIGINAL) {
      throw new Error(`sign: format is for thumbnails only (an original is always served byte-exact), got ${describeValue(format)} for the original`)
    }
  }

  const hasLinkId = linkId !== undefined
  const hasFormat = format !== undefined
  const payload = Buffer.alloc(payloadLength(hasLinkId, hasFormat))
  payload[0] = TOKEN_FORMAT_VERSION
  payload[OFFSET_FLAGS] = (hasLinkId ? FLAG_HAS_LINK_ID : 0) | (hasFormat ? FLAG_HAS_FORMAT : 0)
  uuidToBytes(imageId).copy(payload, OFFSET_IMAGE_ID)
  payload.writeUInt16BE(variantCode, OFFSET_VARIANT)
  payload.writeUInt32BE(expiresAt ?? 0, OFFSET_EXPIRES_AT)
  if (hasLinkId) uuidToBytes(linkId).copy(payload, OFFSET_LINK_ID)
  if (hasFormat) payload[payload.length - 1] = FORMAT_TOKEN_CODES[format]
  return payload
}

function payloadLength(hasLinkId: boolean, hasFormat: boolean): number {
  return PAYLOAD_BYTES_FIXED + (hasLinkId ? UUID_BYTE_LENGTH : 0) + (hasFormat ? FORMAT_BYTES : 0)
}

function encodeVariant(variant: LinkClaims['variant']): number {
  if (variant === 'original') return VARIANT_ORIGINAL
  if (Number.isInteger(variant) && variant >= 1 && variant <= MAX_VARIANT_HEIGHT) return variant
  throw new Error(`sign: variant must be 'original' or a height from 1 to ${MAX_VARIANT_HEIGHT}, got ${describeValue(variant)}`)
}

interface ParsedToken {
  keyId: string
  /** The payload exactly as it appeared in the token: the MAC covers this text. */
  payloadText: string
  mac: Buffer
  claims: LinkClaims
}

/** Splits and decodes a token without checking its signature; undefined for anything that is not exactly our format. */
function parseToken(token: unknown): ParsedToken | undefined {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return undefined
  const parts = token.split('.')
  if (parts.length !== 3) return undefined
  const [keyId, payloadText, macText] = parts as [string, string, string]
  if (!KEY_ID_PATTERN.test(keyId)) return undefined
  const payload = decodeCanonicalBase64url(payloadText)
  const mac = decodeCanonicalBase64url(macText)
  if (payload === undefined || mac === undefined || mac.length !== MAC_BYTES) return undefined
  const claims = decodePayload(payload)
  if (claims === undefined) return undefined
  return { keyId, payloadText, mac, claims }
}

function decodePayload(payload: Buffer): LinkClaims | undefined {
  if (payload.length < PAYLOAD_BYTES_FIXED || payload[0] !== TOKEN_FORMAT_VERSION) return undefined
  const flags = payload[OFFSET_FLAGS]!
  if ((flags & ~KNOWN_FLAGS) !== 0) return undefined
  const hasLinkId = (flags & FLAG_HAS_LINK_ID) !== 0
  const hasFormat = (flags & FLAG_HAS_FORMAT) !== 0
  if (payload.length !== payloadLength(hasLinkId, hasFormat)) return undefined

  const variantCode = payload.readUInt16BE(OFFSET_VARIANT)
  const expiresAt = payload.readUInt32BE(OFFSET_EXPIRES_AT)
  let format: ServedFormat | undefined
  if (hasFormat) {
    format = FORMATS_BY_TOKEN_CODE.get(payload[payload.length - 1]!)
    // an unknown code, or a format on the original: nothing sign would make
    if (format === undefined || variantCode === VARIANT_ORIGINAL) return undefined
  }
  const claims: LinkClaims = {
    imageId: bytesToUuid(payload.subarray(OFFSET_IMAGE_ID, OFFSET_IMAGE_ID + UUID_BYTE_LENGTH)),
    variant: variantCode === VARIANT_ORIGINAL ? 'original' : variantCode,
  }
  if (expiresAt !== 0) claims.expiresAt = expiresAt
  if (hasLinkId) claims.linkId = bytesToUuid(payload.subarray(OFFSET_LINK_ID, OFFSET_LINK_ID + UUID_BYTE_LENGTH))
  if (format !== undefined) claims.format = format
  return claims
}

function encodeBase64url(bytes: Buffer): string {
  return bytes.toString('base64url')
}

/**
 * Decodes base64url only in the one form our encoder writes: no padding, no
 * standard-alphabet characters, no non-zero leftover bits. Node's decoder
 * accepts all of those, which would let many strings stand for one token; being
 * strict keeps a token's text and its bytes one-to-one.
 */
function decodeCanonicalBase64url(text: string): Buffer | undefined {
  if (!BASE64URL_PATTERN.test(text)) return undefined
  const bytes = Buffer.from(text, 'base64url')
  return bytes.toString('base64url') === text ? bytes : undefined
}
