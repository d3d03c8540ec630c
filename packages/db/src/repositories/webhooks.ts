import { sql, type Kysely } from 'kysely'
import type { Database, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint } from '../schema.js'

/** How long a rotated-out secret is still signed with, so receivers can switch over. */
export const PREVIOUS_WEBHOOK_SECRET_MS = 24 * 60 * 60 * 1000
/** What is kept of a receiver's error or answer (the column's bound). */
export const MAX_WEBHOOK_ERROR_LENGTH = 1024

export interface NewWebhookEndpoint {
  ownerId: string
  url: string
  events: string[]
  description: string | null
  secret: string
  /** The caller's clock, to the millisecond. */
  now: Date
}

/** `created`: the endpoint; otherwise `count`, how many its owner already has (the cap). */
export type CreateWebhookEndpointResult = { created: WebhookEndpoint } | { created: null; count: number }

export interface WebhookEndpointChanges {
  url?: string
  events?: string[]
  description?: string | null
  /** `true` also clears `disabled_reason` and the failure counters: the owner vouches it works again. */
  enabled?: boolean
}

export interface NewWebhookDelivery {
  endpointId: string
  /** The `webhook-id`: one per event and endpoint (webhookMessageId()), kept across retries. */
  messageId: string
  eventType: string
  /** The envelope, as eventEnvelope() builds it. */
  payload: Record<string, unknown>
  /** When it was queued (the caller's clock); also its first `next_attempt_at` unless `nextAttemptAt` is given. */
  now: Date
  nextAttemptAt?: Date
}

export interface WebhookDeliveryPosition {
  createdAt: Date
  id: string
}

export interface WebhookDeliveryPage {
  deliveries: WebhookDelivery[]
  /** Position of the last delivery on the page when more may follow. */
  next: WebhookDeliveryPosition | null
}

/** What an endpoint's failures look like after an attempt was recorded, in shouldDisableEndpoint's terms. */
export interface WebhookFailureRecord {
  consecutiveFailures: number
  firstFailureAt: Date | undefined
  now: Date
}

/**
 * The result of one delivery attempt:
 * - `delivered`: the receiver answered 2xx; the delivery is done and the endpoint's failure run ends.
 * - `retry`: it failed and will be tried again at `nextAttemptAt`; the endpoint's counters are untouched.
 * - `failed`: it failed and no attempt is left; the endpoint's run of failed deliveries grows by one.
 */
export interface WebhookAttemptResult {
  outcome: 'delivered' | 'retry' | 'failed'
  statusCode: number | null
  latencyMs: number | null
  error: string | null
  /** Required for `retry`. */
  nextAttemptAt?: Date
  now: Date
  /**
   * For `failed`: disables the endpoint with this reason, or with what the function returns given
   * its failure run including this delivery (pass shouldDisableEndpoint from @imageapi/webhooks).
   */
  disable?: string | ((record: WebhookFailureRecord) => string | undefined)
}

export interface RecordedWebhookAttempt {
  delivery: WebhookDelivery
  endpoint: WebhookEndpoint
  /** Set when this attempt disabled the endpoint. */
  disabledReason: string | undefined
}

/** A pending delivery that is due, with what sending it needs from its endpoint. */
export interface DueWebhookDelivery {
  delivery: WebhookDelivery
  endpoint: WebhookEndpoint
}

export interface WebhookEndpointHealth {
  endpoint: WebhookEndpoint
  /** Newest first. */
  deliveries: WebhookDelivery[]
}

/** The secrets a delivery is signed with at `now`: the current one, and the rotated-out one while it lasts. */
export function webhookSigningSecrets(endpoint: Pick<WebhookEndpoint, 'secret' | 'previous_secret' | 'previous_secret_expires_at'>, now: Date): string[] {
  const previousLive = endpoint.previous_secret !== null && endpoint.previous_secret_expires_at !== null && endpoint.previous_secret_expires_at > now
  return previousLive ? [endpoint.secret, endpoint.previous_secret!] : [endpoint.secret]
}

function truncateError(error: string | null): string | null {
  return error === null ? null : error.slice(0, MAX_WEBHOOK_ERROR_LENGTH)
}

export class WebhooksRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Inserts the endpoint unless its owner already has `maxPerOwner`. The count and the insert are
   * serialized per owner, so concurrent requests cannot overshoot the cap.
   */
  create(endpoint: NewWebhookEndpoint, maxPerOwner: number): Promise<CreateWebhookEndpointResult> {
    return this.db.transaction().execute(async (trx): Promise<CreateWebhookEndpointResult> => {
      await sql`select pg_advisory_xact_lock(hashtextextended(${`webhook-endpoints:${endpoint.ownerId}`}, 0))`.execute(trx)
      const { count } = await trx
        .selectFrom('webhook_endpoints')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('owner_id', '=', endpoint.ownerId)
        .executeTakeFirstOrThrow()
      if (Number(count) >= maxPerOwner) return { created: null, count: Number(count) }
      const created = await trx
        .insertInto('webhook_endpoints')
        .values({
          owner_id: endpoint.ownerId,
          url: endpoint.url,
          events: endpoint.events,
          description: endpoint.description,
          secret: endpoint.secret,
          created_at: endpoint.now,
          updated_at: endpoint.now,
        })
        .returningAll()
        .executeTakeFirstOrThrow()
      return { created }
    })
  }

  /** A user's endpoints, oldest first (a user has few: the cap). */
  listByOwner(ownerId: string): Promise<WebhookEndpoint[]> {
    return this.db.selectFrom('webhook_endpoints').selectAll().where('owner_id', '=', ownerId).orderBy('created_at').orderBy('id').execute()
  }

  countByOwner(ownerId: string): Promise<number> {
    return this.db
      .selectFrom('webhook_endpoints')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('owner_id', '=', ownerId)
      .executeTakeFirstOrThrow()
      .then(({ count }) => Number(count))
  }

  /** The endpoint when it is the owner's; another user's looks like none. */
  findByOwner(id: string, ownerId: string): Promise<WebhookEndpoint | undefined> {
    return this.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).where('owner_id', '=', ownerId).executeTakeFirst()
  }

  /** Whoever owns it: for the dispatcher and admins. */
  findById(id: string): Promise<WebhookEndpoint | undefined> {
    return this.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst()
  }

  /** Changes the owner's endpoint; undefined when they have no such endpoint. */
  update(id: string, ownerId: string, changes: WebhookEndpointChanges, now: Date): Promise<WebhookEndpoint | undefined> {
    return this.db
      .updateTable('webhook_endpoints')
      .set({
        updated_at: now,
        ...(changes.url !== undefined ? { url: changes.url } : {}),
        ...(changes.events !== undefined ? { events: changes.events } : {}),
        ...(changes.description !== undefined ? { description: changes.description } : {}),
        ...(changes.enabled === true ? { enabled: true, disabled_reason: null, consecutive_failures: 0, failing_since: null } : {}),
        ...(changes.enabled === false ? { enabled: false } : {}),
      })
      .where('id', '=', id)
      .where('owner_id', '=', ownerId)
      .returningAll()
      .executeTakeFirst()
  }

  /** Deletes the owner's endpoint and its deliveries; false when they have no such endpoint. */
  async delete(id: string, ownerId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('webhook_endpoints').where('id', '=', id).where('owner_id', '=', ownerId).executeTakeFirst()
    return result.numDeletedRows > 0n
  }

  /**
   * Gives the owner's endpoint `secret`; the one it replaces is still signed with for
   * `keepPreviousMs` (24 h), so deliveries carry both signatures while receivers switch over.
   * Rotating again within that time drops the older previous secret.
   */
  rotateSecret(id: string, ownerId: string, secret: string, now: Date, keepPreviousMs = PREVIOUS_WEBHOOK_SECRET_MS): Promise<WebhookEndpoint | undefined> {
    return this.db
      .updateTable('webhook_endpoints')
      .set((eb) => ({
        previous_secret: eb.ref('secret'),
        previous_secret_expires_at: new Date(now.getTime() + keepPreviousMs),
        secret,
        updated_at: now,
      }))
      .where('id', '=', id)
      .where('owner_id', '=', ownerId)
      .returningAll()
      .executeTakeFirst()
  }

  /** The owner's enabled endpoints that subscribed to `eventType`. */
  listSubscribed(ownerId: string, eventType: string): Promise<WebhookEndpoint[]> {
    return this.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('owner_id', '=', ownerId)
      .where('enabled', '=', true)
      .where(sql<boolean>`${eventType} = any(events)`)
      .orderBy('created_at')
      .orderBy('id')
      .execute()
  }

  /** Enabled endpoints of active admins that subscribed to `eventType` (installation-wide events such as backfill.finished). */
  listSubscribedByAdmins(eventType: string): Promise<WebhookEndpoint[]> {
    return this.db
      .selectFrom('webhook_endpoints')
      .innerJoin('users', 'users.id', 'webhook_endpoints.owner_id')
      .selectAll('webhook_endpoints')
      .where('users.is_admin', '=', true)
      .where('users.is_active', '=', true)
      .where('webhook_endpoints.enabled', '=', true)
      .where(sql<boolean>`${eventType} = any(webhook_endpoints.events)`)
      .orderBy('webhook_endpoints.created_at')
      .orderBy('webhook_endpoints.id')
      .execute()
  }

  /**
   * Queues deliveries, pending and due at `nextAttemptAt ?? now`. A delivery whose (endpoint,
   * message id) is already queued is left as it is, so enqueueing an event twice sends it once.
   * Resolves with the rows inserted.
   */
  async insertDeliveries(deliveries: NewWebhookDelivery[]): Promise<Pick<WebhookDelivery, 'id' | 'endpoint_id' | 'message_id'>[]> {
    if (deliveries.length === 0) return []
    return this.db
      .insertInto('webhook_deliveries')
      .values(
        deliveries.map((delivery) => ({
          endpoint_id: delivery.endpointId,
          message_id: delivery.messageId,
          event_type: delivery.eventType,
          payload: JSON.stringify(delivery.payload),
          status: 'pending' as const,
          next_attempt_at: delivery.nextAttemptAt ?? delivery.now,
          created_at: delivery.now,
          updated_at: delivery.now,
        })),
      )
      .onConflict((oc) => oc.columns(['endpoint_id', 'message_id']).doNothing())
      .returning(['id', 'endpoint_id', 'message_id'])
      .execute()
  }

  /** An endpoint's deliveries, newest first, a keyset page at a time. */
  async listDeliveries(endpointId: string, options: { limit: number; after?: WebhookDeliveryPosition }): Promise<WebhookDeliveryPage> {
    let query = this.db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', endpointId)
    if (options.after) {
      const { createdAt, id } = options.after
      query = query.where((eb) => eb.or([eb('created_at', '<', createdAt), eb.and([eb('created_at', '=', createdAt), eb('id', '<', id)])]))
    }
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit + 1).execute()
    const deliveries = rows.slice(0, options.limit)
    const last = deliveries[deliveries.length - 1]
    return { deliveries, next: rows.length > options.limit && last ? { createdAt: last.created_at, id: last.id } : null }
  }

  /** A delivery of that endpoint; undefined when the endpoint has no such delivery. */
  findDelivery(endpointId: string, deliveryId: string): Promise<WebhookDelivery | undefined> {
    return this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', deliveryId).where('endpoint_id', '=', endpointId).executeTakeFirst()
  }

  /**
   * A delivery, whatever its state, with its endpoint: what the dispatcher reads before an attempt.
   * Undefined when the delivery is gone (its endpoint was deleted).
   */
  async findWithEndpoint(deliveryId: string): Promise<DueWebhookDelivery | undefined> {
    const delivery = await this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', deliveryId).executeTakeFirst()
    if (!delivery) return undefined
    const endpoint = await this.findById(delivery.endpoint_id)
    return endpoint ? { delivery, endpoint } : undefined
  }

  /**
   * Pending deliveries due at `now` to enabled endpoints, oldest due first, each with its endpoint.
   * Claimed: their `next_attempt_at` moves to `now + leaseMs`, so another dispatcher does not take
   * them meanwhile, and one that crashes mid-attempt gets them sent again after the lease.
   */
  claimDue(now: Date, limit: number, leaseMs: number): Promise<DueWebhookDelivery[]> {
    return this.db.transaction().execute(async (trx) => {
      const due = await trx
        .selectFrom('webhook_deliveries')
        .innerJoin('webhook_endpoints', 'webhook_endpoints.id', 'webhook_deliveries.endpoint_id')
        .select('webhook_deliveries.id')
        .where('webhook_deliveries.status', '=', 'pending')
        .where('webhook_deliveries.next_attempt_at', '<=', now)
        .where('webhook_endpoints.enabled', '=', true)
        .orderBy('webhook_deliveries.next_attempt_at')
        .limit(limit)
        .forUpdate('webhook_deliveries')
        .skipLocked()
        .execute()
      if (due.length === 0) return []
      const deliveries = await trx
        .updateTable('webhook_deliveries')
        .set({ next_attempt_at: new Date(now.getTime() + leaseMs), updated_at: now })
        .where('id', 'in', due.map(({ id }) => id))
        .returningAll()
        .execute()
      const endpoints = await trx
        .selectFrom('webhook_endpoints')
        .selectAll()
        .where('id', 'in', [...new Set(deliveries.map((delivery) => delivery.endpoint_id))])
        .execute()
      const byId = new Map(endpoints.map((endpoint) => [endpoint.id, endpoint]))
      return deliveries
        .map((delivery) => ({ delivery, endpoint: byId.get(delivery.endpoint_id)! }))
        .sort((a, b) => a.delivery.created_at.getTime() - b.delivery.created_at.getTime())
    })
  }

  /**
   * Records one attempt at a delivery and what it means for its endpoint, in one transaction:
   * the delivery's status, attempts (+1), last status code / latency / error and next attempt;
   * the endpoint's run of failed deliveries (reset when delivered, grown when `failed`), and,
   * for `failed`, disabling it when `disable` says so. Undefined when the delivery is gone or no
   * longer pending (only a pending delivery is being attempted).
   */
  recordAttempt(deliveryId: string, result: WebhookAttemptResult): Promise<RecordedWebhookAttempt | undefined> {
    if (result.outcome === 'retry' && result.nextAttemptAt === undefined) throw new TypeError('recordAttempt: a retry needs nextAttemptAt')
    return this.db.transaction().execute(async (trx): Promise<RecordedWebhookAttempt | undefined> => {
      const status: WebhookDeliveryStatus = result.outcome === 'retry' ? 'pending' : result.outcome
      const delivery = await trx
        .updateTable('webhook_deliveries')
        .set((eb) => ({
          status,
          attempts: eb('attempts', '+', 1),
          last_status_code: result.statusCode,
          last_latency_ms: result.latencyMs === null ? null : Math.max(0, Math.round(result.latencyMs)),
          last_error: truncateError(result.error),
          next_attempt_at: result.outcome === 'retry' ? result.nextAttemptAt! : null,
          delivered_at: result.outcome === 'delivered' ? result.now : null,
          updated_at: result.now,
        }))
        .where('id', '=', deliveryId)
        .where('status', '=', 'pending')
        .returningAll()
        .executeTakeFirst()
      if (!delivery) return undefined
      let endpoint: WebhookEndpoint
      if (result.outcome === 'delivered') {
        endpoint = await trx
          .updateTable('webhook_endpoints')
          .set({ consecutive_failures: 0, failing_since: null })
          .where('id', '=', delivery.endpoint_id)
          .returningAll()
          .executeTakeFirstOrThrow()
      } else if (result.outcome === 'failed') {
        endpoint = await trx
          .updateTable('webhook_endpoints')
          .set((eb) => ({
            consecutive_failures: eb('consecutive_failures', '+', 1),
            failing_since: eb.fn.coalesce('failing_since', eb.val(result.now)),
          }))
          .where('id', '=', delivery.endpoint_id)
          .returningAll()
          .executeTakeFirstOrThrow()
      } else {
        endpoint = await trx.selectFrom('webhook_endpoints').selectAll().where('id', '=', delivery.endpoint_id).executeTakeFirstOrThrow()
      }
      let disabledReason: string | undefined
      if (result.outcome === 'failed' && result.disable !== undefined && endpoint.enabled) {
        disabledReason =
          typeof result.disable === 'string'
            ? result.disable
            : result.disable({ consecutiveFailures: endpoint.consecutive_failures, firstFailureAt: endpoint.failing_since ?? undefined, now: result.now })
        if (disabledReason !== undefined) {
          endpoint = await trx
            .updateTable('webhook_endpoints')
            .set({ enabled: false, disabled_reason: disabledReason.slice(0, MAX_WEBHOOK_ERROR_LENGTH), updated_at: result.now })
            .where('id', '=', endpoint.id)
            .returningAll()
            .executeTakeFirstOrThrow()
        }
      }
      return { delivery, endpoint, disabledReason }
    })
  }

  /**
   * Queues a delivered or failed delivery of the endpoint again (a manual redelivery): pending, due
   * at `now`, its attempts back to 0 so it gets the whole retry schedule; the same message id and
   * payload. The last attempt's status code, latency and error stay until the next attempt.
   * `not_found`: no such delivery of that endpoint; `pending`: it is already queued.
   */
  resetForRetry(endpointId: string, deliveryId: string, now: Date): Promise<{ outcome: 'queued'; delivery: WebhookDelivery } | { outcome: 'not_found' | 'pending' }> {
    return this.db.transaction().execute(async (trx) => {
      const current = await trx
        .selectFrom('webhook_deliveries')
        .select('status')
        .where('id', '=', deliveryId)
        .where('endpoint_id', '=', endpointId)
        .forUpdate()
        .executeTakeFirst()
      if (!current) return { outcome: 'not_found' as const }
      if (current.status === 'pending') return { outcome: 'pending' as const }
      const delivery = await trx
        .updateTable('webhook_deliveries')
        .set({ status: 'pending', attempts: 0, next_attempt_at: now, delivered_at: null, updated_at: now })
        .where('id', '=', deliveryId)
        .returningAll()
        .executeTakeFirstOrThrow()
      return { outcome: 'queued' as const, delivery }
    })
  }

  /** For admins: the endpoint, whoever owns it, with its last `deliveries` deliveries, newest first. */
  async health(id: string, deliveries: number): Promise<WebhookEndpointHealth | undefined> {
    const endpoint = await this.findById(id)
    if (!endpoint) return undefined
    const page = await this.listDeliveries(id, { limit: deliveries })
    return { endpoint, deliveries: page.deliveries }
  }

  /**
   * For admins: a user's endpoints, oldest first, each with its newest delivery (undefined when it
   * has none): two queries, whatever the number of endpoints.
   */
  async listByOwnerWithLastDelivery(ownerId: string): Promise<Array<{ endpoint: WebhookEndpoint; lastDelivery: WebhookDelivery | undefined }>> {
    const endpoints = await this.listByOwner(ownerId)
    if (endpoints.length === 0) return []
    const latest = await this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .distinctOn('endpoint_id')
      .where('endpoint_id', 'in', endpoints.map((endpoint) => endpoint.id))
      .orderBy('endpoint_id')
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute()
    const byEndpoint = new Map(latest.map((delivery) => [delivery.endpoint_id, delivery]))
    return endpoints.map((endpoint) => ({ endpoint, lastDelivery: byEndpoint.get(endpoint.id) }))
  }
}
