import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import { isWebhookSecret } from './secrets.js'

/** The headers the Standard Webhooks specification puts on every message. */
export interface WebhookHeaders {
  'webhook-id': string
  'webhook-timestamp': string
  'webhook-signature': string
}

export interface SignWebhookInput {
  /** The endpoint's `whsec_…` secret. */
  readonly secret: string
  /** The message id; see webhookMessageId for why it must stay the same across retries. */
  readonly id: string
  /** When this attempt is sent. Receivers refuse timestamps more than about 5 minutes away from their clock, so each retry is signed anew. */
  readonly timestamp: Date
  /** The exact bytes that will be sent as the body; any re-serialisation breaks the signature. */
  readonly payload: string
}

// The id is part of the signed text `${id}.${timestamp}.${payload}`, so a `.` in it would make two messages sign alike.
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,128}$/

/** Signs one delivery attempt and returns its three headers. Throws on a malformed secret, id or timestamp: those are caller bugs. */
export function signWebhook({ secret, id, timestamp, payload }: SignWebhookInput): WebhookHeaders {
  // Never echo the secret: these messages reach logs.
  if (!isWebhookSecret(secret)) throw new TypeError('signWebhook: secret is not a whsec_ secret of 24-64 base64 bytes')
  if (typeof id !== 'string' || !MESSAGE_ID.test(id)) {
    throw new TypeError(`signWebhook: id must be 1-128 of [A-Za-z0-9_-], got ${JSON.stringify(String(id).slice(0, 40))}`)
  }
  if (!(timestamp instanceof Date) || Number.isNaN(timestamp.getTime())) throw new TypeError('signWebhook: timestamp must be a valid Date')
  if (typeof payload !== 'string') throw new TypeError('signWebhook: payload must be the string that will be sent')
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, timestamp, payload),
  }
}

/**
 * A new random message id, `msg_` and 22 URL-safe characters.
 *
 * Receivers deduplicate on `webhook-id`, so the caller must make one id per event and endpoint,
 * store it with the delivery, and send that same id on every retry of it. Calling this per attempt
 * would make each retry look like a new event to the receiver.
 */
export function webhookMessageId(): string {
  return `msg_${randomBytes(16).toString('base64url')}`
}
