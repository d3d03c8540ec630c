import { Redis } from 'ioredis'
import { createThumbnailQueue, enqueueThumbnails, THUMBNAIL_QUEUE } from '@imageapi/queue'
import { startRedisServer, type RunningService } from '@imageapi/testkit'
import { Cleanup, createBenchEnvironment, type BenchEnvironment } from '../lib/environment.js'
import type { BenchInput } from '../lib/inputs.js'
import { resetThumbnailRows, seedImagesOwing } from '../lib/seed-images.js'
import { cpuDelta, cpuSnapshot, redisPid } from '../lib/counters.js'
import { cpuSeconds, machineCpu, memoryKiB } from '../lib/procstat.js'
import type { BenchResult, ResultRow } from '../lib/report.js'
import { limitThroughput } from '../lib/sharp-limit.js'
import { fmt, median, ratioSpread, spread } from '../lib/stats.js'
import type { BenchContext } from '../main.js'

/**
 * Worker scaling (issue 14 item 4): thumbnail throughput with 1, 2 and 3 worker processes, each at
 * its default concurrency (WORKER_CONCURRENCY unset: cores + 1), on a Redis of the benchmark's own.
 * N images (rows + originals in storage) are queued while the queue is paused, then released;
 * images/s = N / (first job active → last job completed), both from BullMQ's event stream (Redis
 * time; completion is after the rows are marked ready). Nothing polls Postgres during a drain.
 * CPU per image over the drain, from /proc: all worker processes together, the store's daemons,
 * the Postgres backends of the benchmark's database, the benchmark's own redis-server.
 * Limit, right after each drain: sharp alone in the bench process, 2 in flight (decode once,
 * every height), and its CPU per image — so "× sharp" is what the whole pipeline costs per image
 * against the image work alone.
 */

const HEIGHTS = [200, 400] // the Premium tier's
const PROCESS_COUNTS = [1, 2, 3]

export async function workerScalingBenchmark(ctx: BenchContext): Promise<BenchResult> {
  const started = performance.now()
  const own = new Cleanup()
  try {
    const redisServer = await startRedisServer(own)
    const env = await createBenchEnvironment('worker-scaling', { redisUrl: redisServer.url })
    try {
      const rows: ResultRow[] = []
      const notes: string[] = []
      const details: Record<string, unknown> = {}
      const inputs: Array<{ input: BenchInput; count: number }> = [
        { input: ctx.jpeg, count: ctx.quick ? 10 : 40 },
        { input: ctx.png, count: ctx.quick ? 4 : 12 },
      ]
      for (const { input, count } of inputs) {
        const r = await benchInput(ctx, env, redisPid(redisServer.port), input, count)
        rows.push(...r.rows)
        notes.push(...r.notes)
        details[input.name] = r.details
      }
      notes.push(`each worker process at its default concurrency (WORKER_CONCURRENCY unset: availableParallelism() + 1 = ${ctx.machine.cores + 1} here); ${ctx.machine.cores} cores; Redis of the benchmark's own (redis-server on 127.0.0.1:${redisServer.port}); store ${env.s3.kind}.`)
      return { name: 'worker-scaling', title: 'Worker scaling (1, 2, 3 worker processes, default concurrency each)', rows, notes, details, seconds: (performance.now() - started) / 1000 }
    } finally {
      await env.cleanup.run()
    }
  } finally {
    await own.run()
  }
}

async function benchInput(ctx: BenchContext, env: BenchEnvironment, ownRedisPid: number | undefined, input: BenchInput, count: number) {
  const { database } = env
  const imageIds = await seedImagesOwing(env, input, count, HEIGHTS)
  const warmupIds = imageIds.slice(0, Math.min(4, count))
  const queue = createThumbnailQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
  const redis = new Redis(env.redisUrl)
  const eventsKey = `${env.queuePrefix}:${THUMBNAIL_QUEUE}:events`

  const resetRows = (ids: string[]) => resetThumbnailRows(env, ids)
  const eventName = (fields: string[]) => fields[fields.indexOf('event') + 1]

  const drain = async (ids: string[], pids: () => Record<string, number | number[] | undefined>) => {
    await resetRows(ids)
    await queue.pause()
    for (const imageId of ids) await enqueueThumbnails(queue, { imageId })
    let cursor = (await redis.xrevrange(eventsKey, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0'
    const before = cpuSnapshot(pids(), database.name)
    const machineBefore = machineCpu()
    const wall0 = performance.now()
    await queue.resume()
    const active: number[] = []
    const completed: number[] = []
    let failed = 0
    const deadline = Date.now() + 180_000
    while (completed.length + failed < ids.length) {
      if (Date.now() > deadline) throw new Error(`${ids.length - completed.length} jobs not completed in 180 s`)
      // blocks in Redis until events arrive: no polling of Postgres, little of Redis
      const res = (await redis.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', eventsKey, cursor)) as Array<[string, Array<[string, string[]]>]> | null
      for (const [, entries] of res ?? []) {
        for (const [id, fields] of entries) {
          cursor = id
          const at = Number(id.split('-')[0])
          const name = eventName(fields)
          if (name === 'active') active.push(at)
          else if (name === 'completed') completed.push(at)
          else if (name === 'failed') failed++
        }
      }
    }
    const after = cpuSnapshot(pids(), database.name)
    const machineAfter = machineCpu()
    if (failed) throw new Error(`${failed} thumbnail jobs failed`)
    const seconds = (Math.max(...completed) - Math.min(...active)) / 1000
    const cpu = cpuDelta(before, after)
    const ours = Object.values(cpu).reduce((a, b) => a + b, 0)
    const busy = machineAfter.busy - machineBefore.busy
    return { imagesPerSecond: ids.length / seconds, seconds, cpu, wallSeconds: (performance.now() - wall0) / 1000, other: Math.max(0, busy - ours) }
  }

  const runs = ctx.quick ? 1 : 3
  const rows: ResultRow[] = []
  const notes: string[] = []
  const table: string[] = [
    `${input.name.toUpperCase()} ${input.width}×${input.height} (${(input.data.length / 1e6).toFixed(2)} MB), ${count} images per drain, ${runs} drains per configuration (medians); CPU ms per image:`,
    '',
    '| worker processes | images/s | sharp alone (2 in flight) | ratio | workers | store | Postgres | Redis | total | sharp alone | total ÷ sharp | busy cores | other | worker RSS at rest / peak (MiB, each) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  const details: Record<string, unknown> = { count, runs, byProcesses: {} as Record<string, unknown> }
  for (const processes of PROCESS_COUNTS) {
    const workers: RunningService[] = []
    for (let p = 0; p < processes; p++) workers.push(await env.start('thumbnail-worker', {}, `worker-${input.name}-${processes}p-${p + 1}`))
    const rssAtRest = workers.map((w) => memoryKiB(w.process.pid!).rss / 1024)
    const pids = () => ({ workers: workers.map((w) => w.process.pid!), store: env.s3.pids(), redis: ownRedisPid })
    await drain(warmupIds, pids) // JIT, pools, libvips start-up: not measured
    await limitThroughput(input.data, HEIGHTS, 2, 2)
    const figures: number[] = []
    const limits: number[] = []
    const perImage: Array<Record<string, number>> = []
    const sharpMs: number[] = []
    const busyCores: number[] = []
    const others: number[] = []
    for (let r = 0; r < runs; r++) {
      const result = await drain(imageIds, pids)
      figures.push(result.imagesPerSecond)
      perImage.push(Object.fromEntries(Object.entries(result.cpu).map(([k, s]) => [k, (s / count) * 1000])))
      busyCores.push(Object.values(result.cpu).reduce((a, b) => a + b, 0) / result.wallSeconds)
      others.push(result.other / result.wallSeconds)
      const bench0 = cpuSeconds(process.pid)
      const limit = await limitThroughput(input.data, HEIGHTS, count, 2)
      sharpMs.push(((cpuSeconds(process.pid) - bench0) / count) * 1000)
      limits.push(limit.imagesPerSecond)
      ctx.log(`  ${input.name} ${processes} worker process(es) run ${r + 1}: ${fmt(result.imagesPerSecond)} images/s (${result.seconds.toFixed(2)} s), sharp alone ${fmt(limit.imagesPerSecond)} images/s`)
    }
    const rssPeak = workers.map((w) => memoryKiB(w.process.pid!).hwm / 1024)
    for (const w of workers) await w.stop()
    const ratio = ratioSpread(figures, limits)
    rows.push({
      label: `${input.name.toUpperCase()}, ${processes} worker process${processes > 1 ? 'es' : ''} × default concurrency, ${count} images`,
      figure: spread(figures),
      limit: spread(limits),
      limitLabel: 'sharp alone, 2 in flight',
      unit: 'images/s',
      ratio,
    })
    const med = (key: string) => median(perImage.map((p) => p[key] ?? 0))
    const total = median(perImage.map((p) => Object.values(p).reduce((a, b) => a + b, 0)))
    const sharp = median(sharpMs)
    table.push(
      `| ${processes} | ${fmt(median(figures))} (${fmt(Math.min(...figures))}–${fmt(Math.max(...figures))}) | ${fmt(median(limits))} | ${fmt(ratio.median)} | ${fmt(med('workers'))} | ${fmt(med('store'))} | ${fmt(med('postgres'))} | ${fmt(med('redis'))} | ${fmt(total)} | ${fmt(sharp)} | ${fmt(total / sharp)} | ${fmt(median(busyCores))} | ${fmt(median(others))} | ${rssAtRest.map((x) => x.toFixed(0)).join(', ')} / ${rssPeak.map((x) => x.toFixed(0)).join(', ')} |`,
    )
    ;(details.byProcesses as Record<string, unknown>)[String(processes)] = { figures, limits, perImageCpuMs: perImage, sharpCpuMsPerImage: sharpMs, busyCores, otherCores: others, rssAtRestMiB: rssAtRest, rssPeakMiB: rssPeak }
  }
  notes.push(table.join('\n').replace(/^/, '```md\n').concat('\n```'))
  notes.push(`${input.name}: "busy cores" = CPU of the workers, store, Postgres backends and Redis over the drain's wall time; "other" = the machine's remaining busy CPU over the same time (other work, the bench's event-stream reads).`)
  await queue.close()
  redis.disconnect()
  return { rows, notes, details }
}
