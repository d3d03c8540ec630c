import { Redis } from 'ioredis'
import { createThumbnailQueue, enqueueThumbnails, THUMBNAIL_QUEUE } from '@imageapi/queue'
import { waitFor, type RunningService } from '@imageapi/testkit'
import { createBenchEnvironment, type BenchEnvironment } from '../lib/environment.js'
import type { BenchInput } from '../lib/inputs.js'
import { resetThumbnailRows, seedImagesOwing } from '../lib/seed-images.js'
import { CpuMeter, describeCpu, type CpuReport } from '../lib/procstat.js'
import type { BenchResult, ResultRow } from '../lib/report.js'
import { directResize, enabledRenditions, limitThroughput, renderLikeWorker, similarity } from '../lib/sharp-limit.js'
import { ratioSpread, spread, fmt } from '../lib/stats.js'
import type { BenchContext } from '../main.js'

/**
 * 1. Thumbnail throughput. N images (rows + originals in storage) are queued while the queue is
 * paused, then released to 1 worker process (at its default concurrency, cores + 1) or 2 processes
 * (2 each); one job per core is shown for comparison.
 * images/s = N / (first job start → last thumbnail row ready), read from BullMQ's event stream
 * (Redis time) and the rows' updated_at (thumbnails and renditions). Limit: sharp alone in this
 * process, 2 in flight, the same outputs from the same bytes (every enabled format, at the settings
 * the worker reads), decode-once like the worker; measured right after each drain.
 * Also the store's own CPU per thumbnailed image (its processes' CPU time from /proc) beside the
 * store CPU of the same S3 requests made directly from the bench process (read the original, write
 * the thumbnails), 2 images in flight.
 */

const HEIGHTS = [200, 400] // the Premium tier's
const AIM = 0.8

interface Config {
  label: string
  processes: number
  concurrency: number
  /** Shown for comparison, without the aim. */
  extra?: boolean
}

const CONFIGS: Config[] = [
  // the worker's default: one job more than cores, so one job's storage and database waits are
  // covered by another's decode
  { label: '1 process × concurrency 3 (the default on 2 cores)', processes: 1, concurrency: 3 },
  { label: '2 processes × concurrency 2', processes: 2, concurrency: 2 },
  // one job per core: shows what the waits cost when nothing covers them
  { label: '1 process × concurrency 2', processes: 1, concurrency: 2, extra: true },
  { label: '2 processes × concurrency 1', processes: 2, concurrency: 1, extra: true },
]

export async function thumbnailsBenchmark(ctx: BenchContext): Promise<BenchResult> {
  const started = performance.now()
  const env = await createBenchEnvironment('thumbnails')
  try {
    const rows: ResultRow[] = []
    const notes: string[] = []
    const details: Record<string, unknown> = {}
    const inputs: Array<{ input: BenchInput; count: number }> = [
      { input: ctx.jpeg, count: ctx.quick ? 10 : 40 },
      { input: ctx.png, count: ctx.quick ? 4 : 12 },
    ]
    for (const { input, count } of inputs) {
      const r = await benchInput(ctx, env, input, count)
      rows.push(...r.rows)
      notes.push(...r.notes)
      details[input.name] = r.details
    }
    return { name: 'thumbnails', title: '1. Thumbnail throughput', rows, notes, details, seconds: (performance.now() - started) / 1000 }
  } finally {
    await env.cleanup.run()
  }
}

async function benchInput(ctx: BenchContext, env: BenchEnvironment, input: BenchInput, count: number) {
  const { storage, database } = env
  const ext = input.format === 'jpeg' ? 'jpg' : 'png'
  const imageIds = await seedImagesOwing(env, input, count, HEIGHTS)
  const renditions = await enabledRenditions(env.repos)
  const warmupIds = imageIds.slice(0, Math.min(4, count))

  const queue = createThumbnailQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
  const redis = new Redis(env.redisUrl)
  const eventsKey = `${env.queuePrefix}:${THUMBNAIL_QUEUE}:events`

  const resetRows = (ids: string[]) => resetThumbnailRows(env, ids)

  /** Queues `ids` on a paused queue, releases them at once and waits for every row to be ready. */
  const drain = async (ids: string[], meter: CpuMeter) => {
    await resetRows(ids)
    await queue.pause()
    for (const imageId of ids) await enqueueThumbnails(queue, { imageId })
    const lastEvent = (await redis.xrevrange(eventsKey, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0'
    meter.begin()
    await queue.resume()
    await waitFor(
      async () => {
        const pending = await Promise.all(
          (['thumbnails', 'renditions'] as const).map((table) =>
            database.db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll<string>().as('n'))
              .where('image_id', 'in', ids)
              .where('status', '!=', 'ready')
              .executeTakeFirstOrThrow(),
          ),
        )
        return pending.every((row) => Number(row.n) === 0)
      },
      { timeoutMs: 180_000, intervalMs: 25, what: `${ids.length} images' thumbnails to be ready` },
    )
    const cpu = meter.end()
    const events = await redis.xrange(eventsKey, `(${lastEvent}`, '+')
    const activeTimes = events
      .filter(([, fields]) => fields[fields.indexOf('event') + 1] === 'active')
      .map(([id]) => Number(id.split('-')[0]))
    if (activeTimes.length === 0) throw new Error('no job became active according to the event stream')
    const firstStart = Math.min(...activeTimes)
    const lasts = await Promise.all(
      (['thumbnails', 'renditions'] as const).map((table) =>
        database.db
          .selectFrom(table)
          .select((eb) => eb.fn.max('updated_at').as('last'))
          .where('image_id', 'in', ids)
          .executeTakeFirstOrThrow(),
      ),
    )
    const lastReady = Math.max(...lasts.map((last) => (last.last === null ? 0 : new Date(last.last as unknown as Date).getTime())))
    const seconds = (lastReady - firstStart) / 1000
    return { imagesPerSecond: ids.length / seconds, seconds, cpu, jobsStarted: activeTimes.length }
  }

  const runs = ctx.quick ? 1 : 3
  const rows: ResultRow[] = []
  const notes: string[] = []
  const details: Record<string, unknown> = { count, runs: {} as Record<string, unknown> }
  let limitSample: Awaited<ReturnType<typeof renderLikeWorker>> | undefined
  let workerSampleImage: string | undefined
  const storeMsByConfig: Record<string, number[]> = {}

  for (const config of CONFIGS) {
    const workers: RunningService[] = []
    for (let p = 0; p < config.processes; p++) {
      workers.push(await env.start('thumbnail-worker', { WORKER_CONCURRENCY: String(config.concurrency) }, `worker-${input.name}-${config.processes}x${config.concurrency}`))
    }
    const pids = () => {
      const named: Record<string, number | number[] | undefined> = { store: env.s3.pids(), bench: process.pid }
      workers.forEach((w, i) => (named[`worker${workers.length > 1 ? i + 1 : ''}`] = w.process.pid))
      return named
    }
    const meter = new CpuMeter(pids, env.database.name)
    // warm-up: JIT, connection pools, libvips start-up; not measured
    await drain(warmupIds, meter)
    await limitThroughput(input.data, HEIGHTS, 2, 2, renditions)

    const figures: number[] = []
    const limits: number[] = []
    const cpus: CpuReport[] = []
    const limitCpus: CpuReport[] = []
    for (let r = 0; r < runs; r++) {
      const result = await drain(imageIds, meter)
      figures.push(result.imagesPerSecond)
      cpus.push(result.cpu)
      meter.begin()
      const limit = await limitThroughput(input.data, HEIGHTS, count, 2, renditions)
      limitCpus.push(meter.end())
      limits.push(limit.imagesPerSecond)
      ctx.log(`  ${input.name} ${config.label} run ${r + 1}: ${fmt(result.imagesPerSecond)} images/s (${result.seconds.toFixed(2)} s), limit ${fmt(limit.imagesPerSecond)} images/s`)
    }
    for (const w of workers) await w.stop()
    const ratio = ratioSpread(figures, limits)
    rows.push({
      label: `${input.name.toUpperCase()} ${input.width}×${input.height}, ${count} images, ${config.label}`,
      figure: spread(figures),
      limit: spread(limits),
      limitLabel: `sharp alone, 2 in flight, ${[input.format, ...renditions.map((r) => r.format)].join(' + ')}`,
      unit: 'images/s',
      ratio,
      ...(config.extra ? { aim: '(extra)' } : { aim: `≥ ${AIM}`, met: ratio.median >= AIM }),
    })
    storeMsByConfig[config.label] = cpus.map((c) => ((c.procs.store ?? 0) / count) * 1000)
    const midCpu = cpus[Math.floor(cpus.length / 2)]!
    const midLimitCpu = limitCpus[Math.floor(limitCpus.length / 2)]!
    notes.push(`${input.name} ${config.label}: ${describeCpu(midCpu)}; CPU s per image: ${(Object.values(midCpu.procs).reduce((a, b) => a + b, 0) / count + midCpu.postgresRedis / count).toFixed(3)} (limit: ${((midLimitCpu.procs.bench ?? 0) / count).toFixed(3)})`)
    ;(details.runs as Record<string, unknown>)[config.label] = { figures, limits, cpu: cpus, limitCpu: limitCpus }
    workerSampleImage = imageIds[0]
  }

  // Same quality: the worker's files against the limit's, and both against a direct resize.
  limitSample = await renderLikeWorker(input.data, HEIGHTS, renditions)
  const thumbs = await database.db.selectFrom('thumbnails').selectAll().where('image_id', '=', workerSampleImage!).orderBy('height').execute()
  for (const row of thumbs) {
    const workerFile = await storage.getObjectBuffer(row.object_key!)
    const limitFile = limitSample.find((t) => t.height === row.height)!
    const vsLimit = await similarity(workerFile, limitFile.data)
    const reference = await directResize(input.data, row.height)
    const workerVsRef = await similarity(workerFile, reference)
    const limitVsRef = await similarity(limitFile.data, reference)
    notes.push(
      `${input.name} ${row.height} px (${row.width}×${row.height}): worker ${workerFile.length} B vs limit ${limitFile.data.length} B` +
        `${workerFile.equals(limitFile.data) ? ' (byte-identical)' : ''}; worker vs limit PSNR ${fmtDb(vsLimit.psnr)}, MAE ${vsLimit.mae.toFixed(3)}; ` +
        `vs a direct lanczos3 resize of the original: worker PSNR ${fmtDb(workerVsRef.psnr)}, limit PSNR ${fmtDb(limitVsRef.psnr)}`,
    )
  }
  // Bytes a view costs in each format: the worker's own files of the sample image.
  const renditionRows = await database.db.selectFrom('renditions').select(['height', 'format', 'bytes']).where('image_id', '=', workerSampleImage!).orderBy('height').orderBy('format').execute()
  for (const row of thumbs) {
    const others = renditionRows.filter((r) => r.height === row.height)
    notes.push(
      `${input.name} ${row.height} px bytes per view: ${input.format} ${row.bytes} B` +
        others.map((r) => `, ${r.format} ${r.bytes} B (${(((r.bytes ?? 0) / (row.bytes ?? 1)) * 100).toFixed(0)}%)`).join(''),
    )
  }
  details.bytesPerView = { thumbnails: thumbs.map((t) => ({ height: t.height, bytes: t.bytes })), renditions: renditionRows }
  // The store's CPU for the same S3 requests without the worker: per image, read the original and
  // write its thumbnails (the worker's outputs' sizes), 2 images in flight, from this process.
  const thumbBytes = limitSample.flatMap((t) => [t.data, ...t.renditions.map((r) => r.data)])
  const storeMeter = new CpuMeter(() => ({ store: env.s3.pids(), bench: process.pid }), env.database.name)
  const directStoreMs: number[] = []
  for (let r = 0; r < runs; r++) {
    const written: string[] = []
    storeMeter.begin()
    const todo = [...imageIds]
    await Promise.all(
      Array.from({ length: 2 }, async () => {
        for (let id = todo.shift(); id; id = todo.shift()) {
          await storage.getObjectBuffer(`originals/${id}.${ext}`)
          for (const [i, data] of thumbBytes.entries()) {
            const key = `limit/${id}-${i}.${ext}`
            await storage.putObject(key, data, data.length, `image/${input.format}`)
            written.push(key)
          }
        }
      }),
    )
    directStoreMs.push(((storeMeter.end().procs.store ?? 0) / count) * 1000)
    await storage.removeObjects(written)
  }
  const defaultLabel = CONFIGS[0]!.label
  const workerStoreMs = storeMsByConfig[defaultLabel]!
  rows.push({
    label: `${env.s3.kind}'s own CPU per thumbnailed ${input.name.toUpperCase()} (${HEIGHTS.length} heights; ${defaultLabel})`,
    figure: spread(workerStoreMs),
    limit: spread(directStoreMs),
    limitLabel: `the same S3 requests from the bench process (GET original, PUT ${thumbBytes.length} files)`,
    unit: 'ms',
    ratio: ratioSpread(workerStoreMs, directStoreMs),
  })
  notes.push(`${input.name} store (${env.s3.kind}) CPU per image by configuration: ${Object.entries(storeMsByConfig).map(([label, ms]) => `${label} ${fmt(spread(ms).median)} ms`).join('; ')}; the same requests direct: ${fmt(spread(directStoreMs).median)} ms.`)
  details.storeMs = { byConfig: storeMsByConfig, direct: directStoreMs }
  await queue.close()
  redis.disconnect()
  return { rows, notes, details }
}

function fmtDb(psnr: number): string {
  return Number.isFinite(psnr) ? `${psnr.toFixed(1)} dB` : psnr === Infinity ? '∞ (identical pixels)' : String(psnr)
}
