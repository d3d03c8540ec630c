import { Type, type Static } from 'typebox'
import Value from 'typebox/value'

export const WEBHOOK_EVENT_TYPES = ['image.ready', 'image.failed', 'image.deleted', 'backfill.finished', 'webhook.test'] as const

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number]

/** Events about the whole installation rather than one account's images; only admin endpoints may subscribe to them. */
export const ADMIN_ONLY_EVENT_TYPES: readonly WebhookEventType[] = ['backfill.finished']

export const WebhookEventTypeSchema = Type.Enum(WEBHOOK_EVENT_TYPES)

/** The body of every webhook, in the shape the Standard Webhooks specification recommends. */
export const WebhookEnvelopeSchema = Type.Object(
  {
    type: WebhookEventTypeSchema,
    /** When the event happened (not when it was sent, which is `webhook-timestamp`). */
    timestamp: Type.String({ format: 'date-time' }),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
)

export type WebhookEnvelope = Static<typeof WebhookEnvelopeSchema>

export function isWebhookEventType(value: unknown): value is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly unknown[]).includes(value)
}

export function isAdminOnlyEventType(type: WebhookEventType): boolean {
  return ADMIN_ONLY_EVENT_TYPES.includes(type)
}

/** Builds an envelope, throwing a TypeError when the parts do not fit the schema (a caller bug, not bad input). */
export function eventEnvelope(type: WebhookEventType, data: Record<string, unknown>, at: Date): WebhookEnvelope {
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new TypeError('eventEnvelope: at must be a valid Date')
  const envelope = { type, timestamp: at.toISOString(), data }
  if (!Value.Check(WebhookEnvelopeSchema, envelope)) {
    const problem = [...Value.Errors(WebhookEnvelopeSchema, envelope)][0]
    throw new TypeError(`eventEnvelope: ${problem?.instancePath || '(envelope)'} ${problem?.message ?? 'does not match the schema'}`)
  }
  return envelope
}

/**
 * The JSON text that is signed and sent. Serialise once and keep the string: the signature covers
 * these exact bytes, and retries must send the same ones.
 */
export function serializeEnvelope(envelope: WebhookEnvelope): string {
  return JSON.stringify({ type: envelope.type, timestamp: envelope.timestamp, data: envelope.data })
}
