import { randomBytes } from 'node:crypto'

/** Standard Webhooks secrets are written `whsec_<base64>`, which receivers' libraries recognise and strip. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_'
export const WEBHOOK_SECRET_BYTES = 32
/** The bounds the Standard Webhooks specification sets for a secret's decoded length. */
export const MIN_WEBHOOK_SECRET_BYTES = 24
export const MAX_WEBHOOK_SECRET_BYTES = 64

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** A fresh endpoint secret: `whsec_` and the standard base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(WEBHOOK_SECRET_BYTES).toString('base64')
}

/**
 * Whether the value is a secret in the Standard Webhooks format. Padded standard base64 only:
 * receivers' libraries decode exactly that, and a lenient decoder here would let a typo sign with
 * a key the receiver never sees.
 */
export function isWebhookSecret(value: unknown): value is string {
  if (typeof value !== 'string' || !value.startsWith(WEBHOOK_SECRET_PREFIX)) return false
  const encoded = value.slice(WEBHOOK_SECRET_PREFIX.length)
  if (!BASE64.test(encoded)) return false
  const length = Buffer.from(encoded, 'base64').length
  return length >= MIN_WEBHOOK_SECRET_BYTES && length <= MAX_WEBHOOK_SECRET_BYTES
}
