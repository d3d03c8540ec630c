import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { createMinioStorage, type MinioStorage } from '@imageapi/storage'
import { createTestUser } from '@imageapi/testkit'
import { createBenchEnvironment } from '../lib/environment.js'
import { login, request, uploadBody } from '../lib/http.js'
import { CpuMeter, describeCpu, memoryKiB, sampleRss, type CpuReport } from '../lib/procstat.js'
import type { BenchResult } from '../lib/report.js'
import { fmt, median, percentile, ratioSpread, spread } from '../lib/stats.js'
import type { BenchContext } from '../main.js'

/**
 * 3. Upload throughput and memory: C concurrent uploads of the ~20 MB PNG through the gateway
 * (no worker running, so thumbnails do not compete for the cores), and the gateway's peak RSS
 * (VmRSS polled every 20 ms, and VmHWM). Limit: the same bytes, C at a time, to the same store
 * with the same storage adapter's `putStream` (a stream of unknown length: multipart, 5 MiB parts,
 * the adapter's default 64 MiB part pool, as the gateway's default UPLOAD_BUFFER_BYTES), from the
 * bench process. Aims: ≥ 0.85 of that limit; peak RSS ≤ 250 MB. Also the store's own CPU per
 * upload (its processes' CPU time from /proc), through the gateway and for the limit's put.
 */

const RSS_AIM_MB = 250
const THROUGHPUT_AIM = 0.85

export async function uploadThroughputBenchmark(ctx: BenchContext): Promise<BenchResult> {
  const started = performance.now()
  const env = await createBenchEnvironment('upload-throughput')
  try {
    const input = ctx.png
    const concurrency = ctx.quick ? 10 : 50
    const runs = ctx.quick ? 1 : 3
    const maxBytes = Math.max(25 * 1024 * 1024, input.data.length + 1024 * 1024)
    const gateway = await env.start('gateway', { UPLOAD_MAX_BYTES: String(maxBytes) }, 'gateway', { memprobe: true })
    // what the gateway's memory is made of (memprobe lines: rss, heap, external, arrayBuffers in MiB)
    const probes = () => gateway.logs.filter((l) => l.msg === 'memprobe') as unknown as Array<Record<'rss' | 'heapTotal' | 'heapUsed' | 'external' | 'arrayBuffers', number>>
    const describeProbe = (p: Record<string, number> | undefined) =>
      p ? `rss ${p.rss!.toFixed(0)}, JS heap ${p.heapUsed!.toFixed(0)} used / ${p.heapTotal!.toFixed(0)} total, external ${p.external!.toFixed(0)} (Buffers ${p.arrayBuffers!.toFixed(0)}), rest ${(p.rss! - p.heapTotal! - p.external!).toFixed(0)} MiB` : 'n/a'
    const gatewayPid = gateway.process.pid!
    const owner = await createTestUser(env.repos, 'Premium')
    const token = await login(gateway.url!, owner.email, owner.password)
    const form = uploadBody(input.data, 'png')
    const meter = new CpuMeter(() => ({ gateway: gatewayPid, store: env.s3.pids(), bench: process.pid }), env.database.name)

    const uploadAll = async (n: number) => {
      const t = performance.now()
      const responses = await Promise.all(
        Array.from({ length: n }, () =>
          request(`${gateway.url}/api/images`, { body: form.body, headers: { 'content-type': form.contentType, authorization: `Bearer ${token}` }, timeoutMs: 300_000 }),
        ),
      )
      const seconds = (performance.now() - t) / 1000
      const bad = responses.filter((r) => r.status !== 201)
      if (bad.length) throw new Error(`${bad.length} uploads failed, e.g. HTTP ${bad[0]!.status} ${bad[0]!.body.subarray(0, 300).toString()}`)
      const keys = responses.map((r) => `originals/${(JSON.parse(r.body.toString()) as { id: string }).id}.png`)
      return { seconds, keys, latencies: responses.map((r) => r.ms) }
    }
    // The limit: the storage adapter the gateway uses, configured as the gateway configures it
    // (keep-alive, default part pool), putting a stream of unknown length (64 KiB chunks, as a
    // socket delivers them), from this process.
    const limitStorage = createMinioStorage({ endPoint: env.s3.endPoint, accessKey: env.s3.accessKey, secretKey: env.s3.secretKey, region: env.s3.region, bucket: env.s3.bucket })
    const putAll = (storage: MinioStorage, n: number, streamed: boolean) => putMany(storage, input.data, n, streamed)
    // minio's putObject of a Buffer hashes every body (SHA-256) on the event loop before sending;
    // its client does not keep connections alive (with 50 at once the loop stalls for seconds and
    // pooled sockets pass a Node server's 5 s keep-alive timeout). Shown for continuity with the
    // old reports' limit only.
    const bufferStorage = createMinioStorage({ endPoint: env.s3.endPoint, accessKey: env.s3.accessKey, secretKey: env.s3.secretKey, region: env.s3.region, bucket: env.s3.bucket, keepAlive: false })

    // warm-up, then the gateway's resident memory at rest
    const warm = await uploadAll(2)
    await env.storage.removeObjects(warm.keys)
    await env.storage.removeObjects((await putAll(limitStorage, 2, true)).keys)
    await env.storage.removeObjects((await putAll(bufferStorage, 2, false)).keys)
    await env.s3.collectGarbage()
    const idleRss = memoryKiB(gatewayPid).rss / 1024
    await new Promise((r) => setTimeout(r, 300))
    const atRest = probes().at(-1)
    let peakProbe: Record<string, number> | undefined

    const figures: number[] = []
    const limits: number[] = []
    const bufferLimits: number[] = []
    const peaks: number[] = []
    const cpus: CpuReport[] = []
    const limitCpus: CpuReport[] = []
    const latencies: number[][] = []
    const limitLatencies: number[][] = []
    for (let r = 0; r < runs; r++) {
      const sampler = sampleRss(gatewayPid, 20)
      meter.begin()
      const result = await uploadAll(concurrency)
      cpus.push(meter.end())
      const mem = sampler.stop()
      for (const p of probes()) if (!peakProbe || p.rss > peakProbe.rss!) peakProbe = p
      peaks.push(mem.peakMiB)
      figures.push(concurrency / result.seconds)
      latencies.push(result.latencies)
      await env.storage.removeObjects(result.keys)
      await env.s3.collectGarbage() // radosgw frees deleted multipart data lazily: see BenchStore.collectGarbage
      meter.begin()
      const streamed = await putAll(limitStorage, concurrency, true)
      limitCpus.push(meter.end())
      limits.push(concurrency / streamed.seconds)
      limitLatencies.push(streamed.latencies)
      await env.storage.removeObjects(streamed.keys)
      await env.s3.collectGarbage() // radosgw frees deleted multipart data lazily: see BenchStore.collectGarbage
      const buffered = await putAll(bufferStorage, concurrency, false)
      bufferLimits.push(concurrency / buffered.seconds)
      await env.storage.removeObjects(buffered.keys)
      await env.s3.collectGarbage() // radosgw frees deleted multipart data lazily: see BenchStore.collectGarbage
      ctx.log(
        `  run ${r + 1}: ${fmt(concurrency / result.seconds)} uploads/s (${result.seconds.toFixed(2)} s), peak RSS ${mem.peakMiB.toFixed(0)} MiB, store CPU ${perUpload(cpus.at(-1)!, concurrency)} ms/upload; ` +
          `putStream ${fmt(concurrency / streamed.seconds)} uploads/s (${streamed.seconds.toFixed(2)} s), store CPU ${perUpload(limitCpus.at(-1)!, concurrency)} ms/put; putObject(Buffer) ${fmt(concurrency / buffered.seconds)} uploads/s`,
      )
    }
    const hwm = memoryKiB(gatewayPid).hwm / 1024
    limitStorage.close()
    bufferStorage.close()
    await gateway.stop()
    const ratio = ratioSpread(figures, limits)
    const mbps = (ups: number) => (ups * input.data.length) / 1e6
    const peak = spread(peaks)
    const midCpu = cpus[Math.floor(cpus.length / 2)]!
    const midLimitCpu = limitCpus[Math.floor(limitCpus.length / 2)]!
    const storeMs = cpus.map((c) => ((c.procs.store ?? 0) / concurrency) * 1000)
    const limitStoreMs = limitCpus.map((c) => ((c.procs.store ?? 0) / concurrency) * 1000)
    const q = (sets: number[][], p: number) => spread(sets.map((set) => percentile(set, p)))
    const latencyRow = (p: number) => {
      const figure = q(latencies, p)
      const limit = q(limitLatencies, p)
      return { label: `time to 201 under ${concurrency} concurrent uploads, p${p}`, figure, limit, limitLabel: `one putStream of the same bytes among ${concurrency}`, unit: 'ms', ratio: ratioSpread(figure.runs, limit.runs) }
    }
    return {
      name: 'upload-throughput',
      title: `3. Upload throughput and memory (${concurrency} concurrent uploads of a ${(input.data.length / 1e6).toFixed(1)} MB PNG, store: ${env.s3.kind})`,
      rows: [
        {
          label: `uploads/s, ${concurrency} at once`,
          figure: spread(figures),
          limit: spread(limits),
          limitLabel: `putStream of the same bytes to the same ${env.s3.kind}, ${concurrency} at once, from the bench process`,
          unit: 'uploads/s',
          ratio,
          aim: `≥ ${THROUGHPUT_AIM}`,
          met: ratio.median >= THROUGHPUT_AIM,
        },
        latencyRow(50),
        latencyRow(99),
        {
          label: 'gateway peak RSS (VmRSS every 20 ms)',
          figure: peak,
          limit: spread([idleRss]),
          limitLabel: 'the gateway at rest after warm-up, same run',
          unit: 'MiB',
          aim: `≤ ${RSS_AIM_MB} MB (${fmt(RSS_AIM_MB / 1.048576)} MiB)`,
          met: peak.max * 1.048576 <= RSS_AIM_MB,
        },
        {
          label: `${env.s3.kind}'s own CPU per upload (its processes, /proc)`,
          figure: spread(storeMs),
          limit: spread(limitStoreMs),
          limitLabel: 'per putStream of the same bytes',
          unit: 'ms',
          ratio: ratioSpread(storeMs, limitStoreMs),
        },
      ],
      notes: [
        `store: ${env.s3.describe()}.`,
        `throughput in MB/s: gateway ${fmt(mbps(spread(figures).median))}, putStream ${fmt(mbps(spread(limits).median))}, putObject of a Buffer (minio hashes it first; the old reports' limit) ${fmt(mbps(spread(bufferLimits).median))} MB/s = ${fmt(spread(bufferLimits).median)} uploads/s (gateway/putObject ${fmt(ratioSpread(figures, bufferLimits).median)}).`,
        `time to 201 over all runs: p50 ${fmt(percentile(latencies.flat(), 50))} ms, p99 ${fmt(percentile(latencies.flat(), 99))} ms, max ${fmt(Math.max(...latencies.flat()))} ms; a putStream: p50 ${fmt(percentile(limitLatencies.flat(), 50))} ms, p99 ${fmt(percentile(limitLatencies.flat(), 99))} ms (median of the per-run medians ${fmt(median(latencies.map((l) => percentile(l, 50))))} ms).`,
        `gateway RSS at rest after warm-up ${idleRss.toFixed(0)} MiB; VmHWM at the end ${hwm.toFixed(0)} MiB (highest since start; RSS aim compared in MB = 10^6 bytes).`,
        `gateway memory at rest: ${describeProbe(atRest)}; at its highest sampled RSS: ${describeProbe(peakProbe)} (process.memoryUsage every 100 ms).`,
        `through the gateway: ${describeCpu(midCpu)} (middle run); no worker runs, so the queued jobs wait.`,
        `putStream from the bench process: ${describeCpu(midLimitCpu)} (middle run).`,
      ],
      details: { store: env.s3.kind, figures, limits, bufferLimits, peaks, idleRss, hwm, cpus, limitCpus, latencies, limitLatencies, maxBytes },
      seconds: (performance.now() - started) / 1000,
    }
  } finally {
    await env.cleanup.run()
  }
}

function perUpload(cpu: CpuReport, n: number): string {
  return fmt(((cpu.procs.store ?? 0) * 1000) / n)
}

/** `n` puts of `data` at once, each timed: a stream of unknown length (putStream) or a Buffer (putObject). */
async function putMany(storage: MinioStorage, data: Buffer, n: number, streamed: boolean): Promise<{ seconds: number; keys: string[]; latencies: number[] }> {
  const keys = Array.from({ length: n }, () => `limit/${randomUUID()}.png`)
  const t = performance.now()
  const latencies = await Promise.all(
    keys.map(async (key) => {
      const t0 = performance.now()
      if (streamed) await storage.putStream(chunked(data), () => ({ key, contentType: 'image/png' }))
      else await storage.putObject(key, data, data.length, 'image/png')
      return performance.now() - t0
    }),
  )
  return { seconds: (performance.now() - t) / 1000, keys, latencies }
}

/** A stream of `data` in 64 KiB chunks, with no length attached. */
export function chunked(data: Buffer, chunkBytes = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < data.length; at += chunkBytes) yield data.subarray(at, at + chunkBytes)
    })(),
    { objectMode: false },
  )
}
