import { loadConfig, requireInProduction, serviceEnvSchema, Type, type Static } from '@imageapi/config'
import { databaseEnvSchema } from '@imageapi/db'
import { storageEnvSchema } from '@imageapi/storage'
import { queueEnvSchema } from '@imageapi/queue'
import { linkSigningEnvSchema } from '@imageapi/link-tokens'
import { tierRulesEnvSchema, tierRulesFromConfig } from '@imageapi/accounts'
import { ConfigError } from '@imageapi/config'

const MiB = 1024 * 1024

export const gatewayEnvSchema = Type.Object({
  ...serviceEnvSchema,
  HOST: Type.String({ default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8000 }),
  ...databaseEnvSchema,
  ...queueEnvSchema,
  ...storageEnvSchema,
  /** HS256 secret for access and refresh tokens. Required in production. */
  JWT_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  ACCESS_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 30, maximum: 86_400, default: 900 }),
  REFRESH_TOKEN_TTL_SECONDS: Type.Integer({ minimum: 60, maximum: 30 * 86_400, default: 86_400 }),
  ...linkSigningEnvSchema,
  /** Where the links service listens; the gateway forwards link paths there. */
  LINKS_URL: Type.String({ pattern: '^https?://', default: 'http://127.0.0.1:8001' }),
  /**
   * Memory for answers of hot view links (small thumbnails), kept only as long as the links service
   * says they stay valid (never past LINK_CHECK_CACHE_MS); 0 turns it off and every view is forwarded.
   */
  VIEW_ANSWER_CACHE_BYTES: Type.Integer({ minimum: 0, default: 32 * MiB }),
  /** Answers larger than this always stream through from the links service. */
  VIEW_ANSWER_CACHE_MAX_OBJECT_BYTES: Type.Integer({ minimum: 0, default: 256 * 1024 }),
  /**
   * Base of every URL put in answers (view links, page links), e.g. https://img.example.com; required
   * when NODE_ENV=production. Never taken from a request (Host, X-Forwarded-Host/Proto, even behind
   * TRUST_PROXY): when unset (development), the address the server actually listens on.
   */
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^?#]+$' })),
  TRUST_PROXY: Type.Boolean({ default: false }),
  UPLOAD_MAX_BYTES: Type.Integer({ minimum: 1, default: 25 * MiB }),
  UPLOAD_MAX_PIXELS: Type.Integer({ minimum: 1, default: 50_000_000 }),
  /**
   * Memory all uploads in flight may hold at once while they stream into storage (5 MiB parts, at
   * most two per upload); an upload that cannot borrow waits, and its client with it.
   */
  UPLOAD_BUFFER_BYTES: Type.Integer({ minimum: 10 * 1024 * 1024, default: 64 * 1024 * 1024 }),
  /**
   * The window of the request limits (uploads, links, refresh, logout); each also refuses more than
   * half its limit within half the window, so no burst across a boundary passes the limit.
   */
  RATE_LIMIT_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 60 }),
  /** A Redis of their own for the rate limits (a single server); unset = the queue's (REDIS_URL or REDIS_CLUSTER_NODES). */
  RATE_LIMIT_REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  /**
   * Failed logins (401) from one IP address, and for one email from one address, before that address
   * (or that pair) is refused until LOGIN_FAILURE_WINDOW_SECONDS after its first failure; a successful
   * login clears its pair. No per-email limit: the right password from another address always passes.
   * 0 = no limit.
   */
  LOGIN_RATE_LIMIT_PER_IP: Type.Integer({ minimum: 0, default: 60 }),
  LOGIN_RATE_LIMIT_PER_EMAIL: Type.Integer({ minimum: 0, default: 20 }),
  LOGIN_FAILURE_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 900 }),
  /** Failures of one (address, email) after which each further attempt waits 1, 2, 4, … s (at most 60); 0 = never. */
  LOGIN_SLOWDOWN_AFTER: Type.Integer({ minimum: 0, default: 5 }),
  /** Token refreshes and logouts per window from one IP address and for one user (a budget apart from logins'); 0 = no limit. */
  REFRESH_RATE_LIMIT_PER_IP: Type.Integer({ minimum: 0, default: 300 }),
  REFRESH_RATE_LIMIT_PER_USER: Type.Integer({ minimum: 0, default: 60 }),
  /** How long a direct upload's presigned PUT works (POST /api/uploads); at most 15 minutes. */
  UPLOAD_URL_SECONDS: Type.Integer({ minimum: 60, maximum: 900, default: 900 }),
  /** Direct and resumable uploads one user may have started and not completed; one more answers 429. */
  UPLOAD_PENDING_PER_USER: Type.Integer({ minimum: 1, maximum: 10_000, default: 20 }),
  /** A resumable upload that receives nothing for this long is abandoned and removed. */
  RESUMABLE_UPLOAD_IDLE_SECONDS: Type.Integer({ minimum: 60, maximum: 7 * 86_400, default: 86_400 }),
  /** Uploads per window for one user and from one IP address; 0 = no limit. */
  UPLOAD_RATE_LIMIT_PER_USER: Type.Integer({ minimum: 0, default: 120 }),
  UPLOAD_RATE_LIMIT_PER_IP: Type.Integer({ minimum: 0, default: 600 }),
  /** Expiring links created per window by one user and from one IP address; 0 = no limit. */
  LINK_RATE_LIMIT_PER_USER: Type.Integer({ minimum: 0, default: 120 }),
  LINK_RATE_LIMIT_PER_IP: Type.Integer({ minimum: 0, default: 600 }),
  /** Origins allowed to call the API from a browser, comma-separated; unset = CORS off. */
  CORS_ORIGINS: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * How long a compat upload (/api/upload/…) waits for its variant to be rendered before answering
   * 503 "still processing": that API's clients open the link as soon as the upload answers.
   */
  COMPAT_UPLOAD_WAIT_MS: Type.Integer({ minimum: 0, maximum: 120_000, default: 15_000 }),
  /**
   * Live (unexpired, unrevoked) expiring links one image may have; creating one more answers 409
   * until one is revoked or expires.
   */
  LINK_MAX_LIVE_PER_IMAGE: Type.Integer({ minimum: 1, maximum: 100_000, default: 100 }),
  /** Bounds of the thumbnail heights an admin may give a tier (TIER_HEIGHT_MIN, TIER_HEIGHT_MAX). */
  ...tierRulesEnvSchema,
  /** Webhook endpoints one user may have (POST /api/webhooks); one more answers 409. */
  WEBHOOK_ENDPOINTS_PER_USER: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  /** Development only (refused when NODE_ENV=production): accept webhook URLs on loopback (127.0.0.0/8, ::1, localhost). */
  WEBHOOK_ALLOW_LOOPBACK: Type.Boolean({ default: false }),
  /** Development only (refused when NODE_ENV=production): accept plain http:// webhook URLs. */
  WEBHOOK_ALLOW_HTTP: Type.Boolean({ default: false }),
})

export type GatewayEnv = Static<typeof gatewayEnvSchema>

// A fixed development secret, so a developer machine needs no setup; production must set its own.
const DEVELOPMENT_JWT_SECRET = 'development-only-jwt-secret-change-me-0000'

export interface GatewayConfig extends GatewayEnv {
  JWT_SECRET: string
}

/** As webhookSafetyFromEnv (@imageapi/webhooks): each setting reopens a way to reach internal services. */
function refuseWebhookEscapeHatchesInProduction(config: GatewayEnv): void {
  if (config.NODE_ENV !== 'production') return
  const set = (['WEBHOOK_ALLOW_LOOPBACK', 'WEBHOOK_ALLOW_HTTP'] as const).filter((name) => config[name])
  if (set.length > 0) {
    throw new ConfigError(
      set.map((variable) => ({
        variable,
        message: 'must not be set when NODE_ENV=production: it exists for local development and would let webhooks reach internal services',
      })),
    )
  }
}

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const config = loadConfig(gatewayEnvSchema, env)
  // PUBLIC_URL: links are never built from a request's Host; METRICS_TOKEN: /metrics and /readyz are not public
  requireInProduction(env, ['JWT_SECRET', 'LINK_SIGNING_KEYS', 'S3_ENDPOINT', 'PUBLIC_URL', 'METRICS_TOKEN'])
  tierRulesFromConfig(config)
  refuseWebhookEscapeHatchesInProduction(config)
  return {
    ...config,
    JWT_SECRET: config.JWT_SECRET ?? DEVELOPMENT_JWT_SECRET,
  }
}
