import type { Repositories } from '@imageapi/db'
import type { Logger } from '@imageapi/logger'
import { enqueueWebhookDelivery, type WebhookQueue } from '@imageapi/queue'
import { runPeriodically } from '../periodic.js'

export interface WebhookReconcilerDeps {
  repos: Pick<Repositories, 'webhooks'>
  queue: WebhookQueue
  log: Logger
  /** A pending delivery due longer ago than this may have lost its job (WEBHOOK_RECONCILE_AFTER_SECONDS). */
  overdueAfterMs: number
  /** Deliveries queued per pass. */
  limit?: number
  now?: () => number
}

/**
 * Queues again every pending delivery of an enabled endpoint that has been due for longer than
 * `overdueAfterMs`: its job was lost with Redis, failed because Postgres was away, or its
 * dispatcher was killed. The rows are claimed (their `next_attempt_at` moves `overdueAfterMs`
 * ahead), so several workers do not all queue the same ones, and a delivery still overdue then is
 * queued again. Queueing an attempt whose job still waits or runs is a no-op. Resolves with how
 * many were queued.
 */
export async function reconcileWebhooksOnce(deps: WebhookReconcilerDeps): Promise<number> {
  const now = deps.now?.() ?? Date.now()
  // due at `now - overdueAfterMs`; the lease puts the next look at `now + overdueAfterMs`
  const overdue = await deps.repos.webhooks.claimDue(new Date(now - deps.overdueAfterMs), deps.limit ?? 500, 2 * deps.overdueAfterMs)
  let queued = 0
  for (const { delivery } of overdue) {
    try {
      await enqueueWebhookDelivery(deps.queue, delivery.id, { delayMs: 0, attempt: delivery.attempts })
      queued += 1
    } catch (error) {
      deps.log.warn({ err: error, deliveryId: delivery.id }, 'could not queue an overdue webhook delivery; next pass will')
    }
  }
  if (overdue.length > 0) deps.log.info({ overdue: overdue.length, queued }, 'webhook deliveries queued again')
  return queued
}

/** Runs reconcileWebhooksOnce every `intervalMs` until stopped. */
export function startWebhookReconciler(deps: WebhookReconcilerDeps, intervalMs: number): { stop(): Promise<void> } {
  return runPeriodically(() => reconcileWebhooksOnce(deps), intervalMs, deps.log, 'webhook reconcile')
}
