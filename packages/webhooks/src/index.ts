export {
  generateWebhookSecret,
  isWebhookSecret,
  MAX_WEBHOOK_SECRET_BYTES,
  MIN_WEBHOOK_SECRET_BYTES,
  WEBHOOK_SECRET_BYTES,
  WEBHOOK_SECRET_PREFIX,
} from './secrets.js'
export { signWebhook, webhookMessageId, type SignWebhookInput, type WebhookHeaders } from './signing.js'
export {
  ADMIN_ONLY_EVENT_TYPES,
  eventEnvelope,
  isAdminOnlyEventType,
  isWebhookEventType,
  serializeEnvelope,
  WEBHOOK_EVENT_TYPES,
  WebhookEnvelopeSchema,
  WebhookEventTypeSchema,
  type WebhookEnvelope,
  type WebhookEventType,
} from './events.js'
export {
  classifyAddress,
  describeRefusal,
  refusalOf,
  type AddressClass,
  type AddressPolicy,
  type AddressRefusal,
  type AddressRefusalKind,
} from './addresses.js'
export {
  bareHostname,
  checkWebhookUrl,
  MAX_WEBHOOK_URL_LENGTH,
  webhookSafetyFromEnv,
  type WebhookSafety,
  type WebhookSafetyEnv,
  type WebhookUrlCheck,
} from './target-url.js'
export {
  DEFAULT_DELIVERY_TIMEOUT_MS,
  DEFAULT_MAX_RESPONSE_BYTES,
  deliverWebhook,
  WEBHOOK_USER_AGENT,
  type DeliverWebhookOptions,
  type DeliveryResult,
  type HostResolver,
  type ResolvedAddress,
} from './deliver.js'
export {
  DISABLE_AFTER_CONSECUTIVE_FAILURES,
  DISABLE_AFTER_FAILING_FOR_MS,
  MAX_DELIVERY_ATTEMPTS,
  nextRetryDelayMs,
  RETRY_DELAYS_MS,
  RETRY_JITTER,
  shouldDisableEndpoint,
  type EndpointFailureRecord,
} from './retry-schedule.js'
