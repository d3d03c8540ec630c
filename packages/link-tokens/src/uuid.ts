import { describeValue } from './describe-value.js'

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Byte length of a UUID in binary form. */
export const UUID_BYTE_LENGTH = 16

/** True for a UUID in the 8-4-4-4-12 hex form, either case. Any version is accepted: the id comes from our database. */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value)
}

/** The 16 bytes of a UUID string; throws on anything that is not a UUID. */
export function uuidToBytes(uuid: string): Buffer {
  if (!isUuid(uuid)) throw new Error(`not a UUID: ${describeValue(uuid)}`)
  return Buffer.from(uuid.replaceAll('-', ''), 'hex')
}

/** The canonical (lowercase, hyphenated) UUID string of 16 bytes; throws on any other length. */
export function bytesToUuid(bytes: Uint8Array): string {
  if (bytes.length !== UUID_BYTE_LENGTH) {
    throw new Error(`a UUID is ${UUID_BYTE_LENGTH} bytes, got ${bytes.length}`)
  }
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
