import { parseArgs } from 'node:util'
import { requestTierBackfill } from '@imageapi/accounts'
import type { Backfill, BackfillProgress, Repositories } from '@imageapi/db'
import { createThumbnailQueue, enqueueMany, Priority } from '@imageapi/queue'
import { UsageError, type AdminContext } from './admin-context.js'
import { withRepositories } from './commands.js'

const BAR_WIDTH = 30
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** `[#########---------------]  9/24 thumbnails (1 failed)`: failed ones fill the bar too, they are settled. */
export function progressBar(progress: Pick<BackfillProgress, 'done' | 'failed' | 'total'>, width = BAR_WIDTH): string {
  const settled = progress.done + progress.failed
  const filled = progress.total === 0 ? width : Math.round((settled / progress.total) * width)
  const failed = progress.failed ? ` (${progress.failed} failed)` : ''
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${settled}/${progress.total} thumbnails${failed}`
}

export function describeBackfill(backfill: Backfill): string {
  const images = backfill.images === 1 ? '1 image' : `${backfill.images} images`
  return `backfill ${backfill.id}: ${backfill.heights.join(', ')} px for ${images}`
}

/**
 * Queues a backfill's images at backfill priority. Redis being away is no failure: the rows say
 * what is owed, and a worker's reconciler queues what stays pending (RECONCILE_AFTER_SECONDS).
 */
export async function queueBackfill(repos: Repositories, context: AdminContext, backfillId: string): Promise<void> {
  const queue = createThumbnailQueue({ redis: context.redisClusterNodes ? { clusterNodes: context.redisClusterNodes } : context.redisUrl, prefix: context.queuePrefix })
  queue.on('error', () => {})
  try {
    await Promise.race([
      queue.waitUntilReady(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer from Redis in ${context.queueTimeoutMs} ms`)), context.queueTimeoutMs).unref()),
    ])
    const images = await enqueueMany(queue, repos.backfills.pendingImagePages(backfillId), { priority: Priority.backfill })
    context.print(`queued ${images} image${images === 1 ? '' : 's'} at backfill priority`)
  } catch (error) {
    context.print(`could not queue the work now (${(error as Error).message}); a worker's reconciler will queue it`)
  } finally {
    await queue.close().catch(() => {})
  }
}

/** Redraws the progress bar until nothing is pending. Interrupting only stops the watching. */
export async function watchBackfill(repos: Repositories, context: AdminContext, backfillId: string): Promise<BackfillProgress> {
  if (!UUID.test(backfillId)) throw new UsageError(`there is no backfill ${backfillId}`)
  let last = ''
  for (;;) {
    const progress = await repos.backfills.find(backfillId.toLowerCase())
    if (!progress) throw new UsageError(`there is no backfill ${backfillId}`)
    const bar = progressBar(progress)
    if (context.progress.isTTY) context.progress.write(`\r${bar}`)
    else if (bar !== last) context.progress.write(`${bar}\n`)
    last = bar
    if (progress.pending === 0) {
      if (context.progress.isTTY) context.progress.write('\n')
      const failed = progress.failed ? `, ${progress.failed} failed` : ''
      context.print(`backfill ${backfillId} finished: ${progress.done} of ${progress.total} thumbnails made${failed}`)
      return progress
    }
    await new Promise((resolve) => setTimeout(resolve, context.pollMs))
  }
}

/** After a change that owed thumbnails: say so, queue them, and watch them if asked. */
export async function followBackfill(repos: Repositories, context: AdminContext, backfill: Backfill | undefined, watch: boolean): Promise<void> {
  if (!backfill) {
    context.print('no new thumbnails owed')
    return
  }
  context.print(describeBackfill(backfill))
  await queueBackfill(repos, context, backfill.id)
  if (watch) await watchBackfill(repos, context, backfill.id)
}

/** `backfill --tier NAME [--watch]`, `backfill --id ID --watch`. */
export async function backfillCommand(args: string[], context: AdminContext): Promise<void> {
  const { values } = parseArgs({ args, options: { tier: { type: 'string' }, id: { type: 'string' }, watch: { type: 'boolean', default: false } } })
  await withRepositories(context.databaseUrl, async (repos) => {
    if (values.id !== undefined) {
      if (values.tier !== undefined) throw new UsageError('backfill takes --tier or --id, not both')
      await watchBackfill(repos, context, values.id)
      return
    }
    if (values.tier === undefined) throw new UsageError('backfill needs --tier NAME (or --id ID --watch)')
    const { tier, backfill } = await requestTierBackfill(repos, values.tier)
    if (!backfill) context.print(`every image on tier ${tier.name} has its thumbnails; nothing to backfill`)
    else await followBackfill(repos, context, backfill, values.watch ?? false)
  })
}
