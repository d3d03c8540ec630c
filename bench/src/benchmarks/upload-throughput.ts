import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { createMinioStorage } from '@imageapi/storage'
import { createTestUser } from '@imageapi/testkit'
import { createBenchEnvironment } from '../lib/environment.js'
import { login, request, uploadBody } from '../lib/http.js'
import { CpuMeter, describeCpu, memoryKiB, sampleRss, type CpuReport } from '../lib/procstat.js'
import type { BenchResult } from '../lib/report.js'
import { fmt, ratioSpread, spread } from '../lib/stats.js'
import type { BenchContext } from '../main.js'

/**
 * 3. Upload throughput and memory: C concurrent uploads of the ~20 MB PNG through the gateway
 * (no worker running, so thumbnails do not compete for the cores), and the gateway's peak RSS
 * (VmRSS polled every 20 ms, and VmHWM). Limit: the same bytes put with `putObject` from this
 * process, C at a time, to the same S3 server. Aims: peak RSS ≤ 250 MB.
 */

const RSS_AIM_MB = 250

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
    const meter = new CpuMeter(() => ({ gateway: gatewayPid, s3: env.s3.pid, bench: process.pid }), env.database.name)

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
    // The limit's client does not keep connections alive: minio's putObject of a Buffer hashes
    // every body (SHA-256) on the event loop before sending, so with 50 at once the loop stalls for
    // seconds and pooled sockets pass s3rver's 5 s keep-alive timeout: their writes fail with EPIPE.
    const limitStorage = createMinioStorage({ endPoint: env.s3.endPoint, accessKey: 'S3RVER', secretKey: 'S3RVER', bucket: env.s3.bucket, keepAlive: false })
    const putAll = async (n: number, streamed = false) => {
      const keys = Array.from({ length: n }, () => `limit/${randomUUID()}.png`)
      const t = performance.now()
      await Promise.all(keys.map((key) => limitStorage.putObject(key, streamed ? Readable.from([input.data]) : input.data, input.data.length, 'image/png')))
      return { seconds: (performance.now() - t) / 1000, keys }
    }

    // warm-up, then the gateway's resident memory at rest
    const warm = await uploadAll(2)
    await env.storage.removeObjects(warm.keys)
    await env.storage.removeObjects((await putAll(2)).keys)
    const idleRss = memoryKiB(gatewayPid).rss / 1024
    await new Promise((r) => setTimeout(r, 300))
    const atRest = probes().at(-1)
    let peakProbe: Record<string, number> | undefined

    const figures: number[] = []
    const limits: number[] = []
    const streamedLimits: number[] = []
    const peaks: number[] = []
    const cpus: CpuReport[] = []
    const p50s: number[] = []
    for (let r = 0; r < runs; r++) {
      const sampler = sampleRss(gatewayPid, 20)
      meter.begin()
      const result = await uploadAll(concurrency)
      cpus.push(meter.end())
      const mem = sampler.stop()
      for (const p of probes()) if (!peakProbe || p.rss > peakProbe.rss!) peakProbe = p
      peaks.push(mem.peakMiB)
      figures.push(concurrency / result.seconds)
      const sorted = [...result.latencies].sort((a, b) => a - b)
      p50s.push(sorted[Math.floor(sorted.length / 2)]!)
      await env.storage.removeObjects(result.keys)
      const limit = await putAll(concurrency)
      limits.push(concurrency / limit.seconds)
      await env.storage.removeObjects(limit.keys)
      const streamed = await putAll(concurrency, true)
      streamedLimits.push(concurrency / streamed.seconds)
      await env.storage.removeObjects(streamed.keys)
      ctx.log(`  run ${r + 1}: ${fmt(concurrency / result.seconds)} uploads/s (${result.seconds.toFixed(2)} s), peak RSS ${mem.peakMiB.toFixed(0)} MiB; putObject ${fmt(concurrency / limit.seconds)} uploads/s, streamed put ${fmt(concurrency / streamed.seconds)} uploads/s`)
    }
    const hwm = memoryKiB(gatewayPid).hwm / 1024
    limitStorage.close()
    await gateway.stop()
    const ratio = ratioSpread(figures, limits)
    const mbps = (ups: number) => (ups * input.data.length) / 1e6
    const peak = spread(peaks)
    const midCpu = cpus[Math.floor(cpus.length / 2)]!
    return {
      name: 'upload-throughput',
      title: `3. Upload throughput and memory (${concurrency} concurrent uploads of a ${(input.data.length / 1e6).toFixed(1)} MB PNG)`,
      rows: [
        {
          label: `uploads/s, ${concurrency} at once`,
          figure: spread(figures),
          limit: spread(limits),
          limitLabel: 'putObject of the same bytes to the same S3',
          unit: 'uploads/s',
          ratio,
        },
        { label: 'gateway peak RSS (VmRSS every 20 ms)', figure: peak, unit: 'MiB', aim: `≤ ${RSS_AIM_MB} MB`, met: peak.max * 1.048576 <= RSS_AIM_MB },
      ],
      notes: [
        `throughput in MB/s: gateway ${fmt(mbps(spread(figures).median))}, putObject (Buffer: minio hashes it first) ${fmt(mbps(spread(limits).median))}, putObject of a stream (presigned PUT, what the gateway's putFile does) ${fmt(mbps(spread(streamedLimits).median))} MB/s = ${fmt(spread(streamedLimits).median)} uploads/s (gateway/streamed ${fmt(ratioSpread(figures, streamedLimits).median)}); median upload latency ${fmt(spread(p50s).median / 1000)} s.`,
        `gateway RSS at rest after warm-up ${idleRss.toFixed(0)} MiB; VmHWM at the end ${hwm.toFixed(0)} MiB (highest since start; RSS aim compared in MB = 10^6 bytes).`,
        `gateway memory at rest: ${describeProbe(atRest)}; at its highest sampled RSS: ${describeProbe(peakProbe)} (process.memoryUsage every 100 ms).`,
        `${describeCpu(midCpu)} (middle run); no worker runs, so the queued jobs wait.`,
      ],
      details: { figures, limits, streamedLimits, peaks, idleRss, hwm, cpus, maxBytes },
      seconds: (performance.now() - started) / 1000,
    }
  } finally {
    await env.cleanup.run()
  }
}
