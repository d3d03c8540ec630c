import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { buffer } from 'node:stream/consumers'
import { createTestUser } from '@imageapi/testkit'
import { createBenchEnvironment } from '../lib/environment.js'
import { json, login, request, uploadBody } from '../lib/http.js'
import { CpuMeter, describeCpu, memoryKiB, sampleRss, type CpuReport } from '../lib/procstat.js'
import type { BenchResult } from '../lib/report.js'
import { fmt, percentile, ratioSpread, spread } from '../lib/stats.js'
import type { BenchContext } from '../main.js'

/**
 * Direct uploads (issue 16): C concurrent uploads of the ~21 MB PNG whose bytes go straight to
 * the store with the presigned PUT the gateway hands out (POST /api/uploads → PUT → POST
 * /api/uploads/{id}/complete), against the limit measured in the same run on the same store:
 * C concurrent presigned PUTs of the same bytes, presigned by the same storage adapter with the
 * same bindings (type, exact length), from the bench process, no gateway involved. Aim: ≥ 0.9 of
 * that limit (the gateway is out of the byte path).
 *
 * Beside it, what the gateway costs per upload — its process's CPU seconds (/proc) and peak RSS
 * (VmRSS every 20 ms) — for a direct upload and for the streamed upload (multipart POST
 * /api/images, upload-throughput's way) of the same inputs at the same concurrency. Each kind has
 * a gateway process of its own (same configuration, both warmed up), so the memory a streamed
 * round leaves behind (its part pool, kept for reuse) is not counted in a direct round's peak.
 * And the time from sending `complete` to its 201 (p50/p95/max), with, for reading it, the same
 * store's server-side copy of such a file timed alone at the same concurrency (the complete's
 * main store request) and C completes sent at once after all C files have arrived (no PUT
 * traffic beside them). And, to read the create's time, C creates alone (no file sent) from one
 * user and from C users: the gateway serializes a user's creates (a per-owner advisory lock).
 *
 * No worker runs, so the queued thumbnail jobs wait and do not compete for the cores. Both upload
 * rate limits are off (0) and the pending-upload cap is 10,000, so one user's burst is never refused.
 * BENCH_QUICK=1: 10 at once, one run.
 */

const THROUGHPUT_AIM = 0.9
const PENDING_CAP = 10_000

interface Timed {
  seconds: number
  keys: string[]
}

interface DirectTimes {
  create: number[]
  put: number[]
  complete: number[]
  total: number[]
}

export async function directUploadBenchmark(ctx: BenchContext): Promise<BenchResult> {
  const started = performance.now()
  const env = await createBenchEnvironment('direct-upload')
  try {
    const input = ctx.png
    const bytes = input.data.length
    const concurrency = ctx.quick ? 10 : 50
    const runs = ctx.quick ? 1 : 5
    const maxBytes = Math.max(25 * 1024 * 1024, bytes + 1024 * 1024)
    const contentType = 'image/png'
    const gatewayEnv = {
      UPLOAD_MAX_BYTES: String(maxBytes),
      UPLOAD_PENDING_PER_USER: String(PENDING_CAP),
      UPLOAD_RATE_LIMIT_PER_USER: '0',
      UPLOAD_RATE_LIMIT_PER_IP: '0',
    }
    const gateway = await env.start('gateway', gatewayEnv, 'gateway-direct', { memprobe: true })
    const streamGateway = await env.start('gateway', gatewayEnv, 'gateway-streamed', { memprobe: true })
    // what the gateway's memory is made of (memprobe lines every 100 ms: rss, heap, external, arrayBuffers in MiB)
    type Probe = Record<'rss' | 'heapTotal' | 'heapUsed' | 'external' | 'arrayBuffers', number>
    const probes = (service: typeof gateway) => service.logs.filter((l) => l.msg === 'memprobe') as unknown as Probe[]
    const highest = (list: Probe[]) => list.reduce<Probe | undefined>((top, p) => (!top || p.rss > top.rss ? p : top), undefined)
    const describeProbe = (p: Probe | undefined) =>
      p ? `rss ${p.rss.toFixed(0)}, JS heap ${p.heapUsed.toFixed(0)} used / ${p.heapTotal.toFixed(0)} total, external ${p.external.toFixed(0)} (Buffers ${p.arrayBuffers.toFixed(0)}), rest ${(p.rss - p.heapTotal - p.external).toFixed(0)} MiB` : 'n/a'
    const gatewayPid = gateway.process.pid!
    const streamGatewayPid = streamGateway.process.pid!
    const owner = await createTestUser(env.repos, 'Premium')
    const token = await login(gateway.url!, owner.email, owner.password)
    const auth = { authorization: `Bearer ${token}` }
    const streamAuth = { authorization: `Bearer ${await login(streamGateway.url!, owner.email, owner.password)}` }
    const form = uploadBody(input.data, 'png')
    // C other users, for creates not serialized by the per-owner lock
    const others: Array<Record<string, string>> = []
    for (let i = 0; i < concurrency; i++) {
      const user = await createTestUser(env.repos, 'Premium')
      others.push({ authorization: `Bearer ${await login(gateway.url!, user.email, user.password)}` })
    }
    let createdOnly = 0
    // "gateway" is the process serving the kind being measured (the other one idles)
    let measuredGateway = gatewayPid
    const meter = new CpuMeter(() => ({ gateway: measuredGateway, store: env.s3.pids(), bench: process.pid }), env.database.name)
    const createBody = Buffer.from(JSON.stringify({ title: 'bench', bytes, content_type: contentType }))
    const odd = new Set<string>()

    /** The limit: presigned PUTs of the bytes straight to the store (presigned beforehand: no request). */
    const presignedPuts = async (n: number): Promise<Timed & { latencies: number[] }> => {
      const keys = Array.from({ length: n }, () => `limit/${randomUUID()}.png`)
      const urls = await Promise.all(keys.map((key) => env.storage.presignedPutUrl(key, 900, { contentType, contentLength: bytes })))
      const t = performance.now()
      const latencies = await Promise.all(
        urls.map(async (url) => {
          const t0 = performance.now()
          const response = await request(url, { method: 'PUT', body: input.data, headers: { 'content-type': contentType, 'content-length': String(bytes) }, timeoutMs: 300_000 })
          if (response.status !== 200) throw new Error(`presigned PUT failed: HTTP ${response.status} ${response.body.subarray(0, 300).toString()}`)
          return performance.now() - t0
        }),
      )
      return { seconds: (performance.now() - t) / 1000, keys, latencies }
    }

    /** One direct upload, as a client makes it: create, PUT with the given headers, complete (unless `completeLater`). */
    const directUpload = async (times: DirectTimes, completeLater?: Array<() => Promise<string>>): Promise<string> => {
      const t0 = performance.now()
      const created = await request(`${gateway.url}/api/uploads`, { body: createBody, headers: { 'content-type': 'application/json', ...auth }, timeoutMs: 300_000 })
      if (created.status !== 201) throw new Error(`POST /api/uploads: HTTP ${created.status} ${created.body.subarray(0, 300).toString()}`)
      const upload = json<{ id: string; upload: { method: string; url: string; headers: Record<string, string> }; complete_url: string }>(created)
      const t1 = performance.now()
      const put = await request(upload.upload.url, { method: upload.upload.method, body: input.data, headers: upload.upload.headers, timeoutMs: 300_000 })
      if (put.status !== 200) throw new Error(`PUT to the upload URL: HTTP ${put.status} ${put.body.subarray(0, 300).toString()}`)
      if (completeLater) {
        times.create.push(t1 - t0)
        times.put.push(performance.now() - t1)
        completeLater.push(() => finish(upload, times, performance.now(), t0, true))
        return ''
      }
      return finish(upload, times, t1, t0, false)
    }
    const finish = async (upload: { id: string; complete_url: string }, times: DirectTimes, t1: number, t0: number, alone: boolean): Promise<string> => {
      const t2 = performance.now()
      // complete_url is on the gateway's public address (derived from its config); the bench talks to the process it started
      const completePath = new URL(upload.complete_url).pathname
      if (!upload.complete_url.startsWith(gateway.url!)) odd.add(`complete_url ${upload.complete_url} is not on the gateway's address ${gateway.url}`)
      const completed = await request(`${gateway.url}${completePath}`, { method: 'POST', headers: { ...auth, 'content-length': '0' }, timeoutMs: 300_000 })
      if (completed.status !== 201) throw new Error(`POST ${completePath}: HTTP ${completed.status} ${completed.body.subarray(0, 300).toString()}`)
      const t3 = performance.now()
      const image = json<{ id: string; bytes: number }>(completed)
      if (image.id !== upload.id) odd.add(`the image's id ${image.id} is not the upload's ${upload.id}`)
      if (image.bytes !== bytes) odd.add(`the image says ${image.bytes} bytes, the file had ${bytes}`)
      if (alone) times.complete.push(t3 - t2)
      else {
        times.create.push(t1 - t0)
        times.put.push(t2 - t1)
        times.complete.push(t3 - t2)
        times.total.push(t3 - t0)
      }
      return `originals/${image.id}.png`
    }
    /** n direct uploads created and sent at once; once every file has arrived, n completes at once (timed). */
    const completesAlone = async (n: number): Promise<{ completes: number[]; keys: string[] }> => {
      const times: DirectTimes = { create: [], put: [], complete: [], total: [] }
      const later: Array<() => Promise<string>> = []
      await Promise.all(Array.from({ length: n }, () => directUpload(times, later)))
      const keys = await Promise.all(later.map((complete) => complete()))
      return { completes: times.complete, keys }
    }
    const directUploads = async (n: number): Promise<Timed & { times: DirectTimes }> => {
      const times: DirectTimes = { create: [], put: [], complete: [], total: [] }
      const t = performance.now()
      const keys = await Promise.all(Array.from({ length: n }, () => directUpload(times)))
      return { seconds: (performance.now() - t) / 1000, keys, times }
    }

    /** Creates alone (no file is sent; the uploads stay pending), one per caller, all at once. */
    const createsOnly = async (callers: Array<Record<string, string>>): Promise<{ seconds: number; latencies: number[] }> => {
      const t = performance.now()
      const latencies = await Promise.all(
        callers.map(async (caller) => {
          const created = await request(`${gateway.url}/api/uploads`, { body: createBody, headers: { 'content-type': 'application/json', ...caller }, timeoutMs: 300_000 })
          if (created.status !== 201) throw new Error(`POST /api/uploads: HTTP ${created.status} ${created.body.subarray(0, 300).toString()}`)
          createdOnly++
          return created.ms
        }),
      )
      return { seconds: (performance.now() - t) / 1000, latencies }
    }

    /** The streamed upload (multipart POST /api/images), as upload-throughput sends it. */
    const streamedUploads = async (n: number): Promise<Timed & { latencies: number[] }> => {
      const t = performance.now()
      const responses = await Promise.all(
        Array.from({ length: n }, () => request(`${streamGateway.url}/api/images`, { body: form.body, headers: { 'content-type': form.contentType, ...streamAuth }, timeoutMs: 300_000 })),
      )
      const seconds = (performance.now() - t) / 1000
      const bad = responses.filter((r) => r.status !== 201)
      if (bad.length) throw new Error(`${bad.length} streamed uploads failed, e.g. HTTP ${bad[0]!.status} ${bad[0]!.body.subarray(0, 300).toString()}`)
      return { seconds, keys: responses.map((r) => `originals/${json<{ id: string }>(r).id}.png`), latencies: responses.map((r) => r.ms) }
    }

    /**
     * The complete's store requests alone, n at once, from the bench, on stored files: stat the
     * staged file, copy it server-side, stat the copy, read its first 256 KiB and last 64 bytes,
     * remove the staged file (as stageToOriginal and completeStagedUpload do, without the database
     * and the queue). `latencies`: the copy alone; `replay`: the whole sequence.
     */
    const copies = async (sources: string[]): Promise<Timed & { latencies: number[]; replay: number[] }> => {
      const keys = sources.map(() => `copy/${randomUUID()}.png`)
      const t = performance.now()
      const both = await Promise.all(
        sources.map(async (source, i) => {
          const t0 = performance.now()
          const staged = await env.storage.statObject(source)
          const t1 = performance.now()
          await env.storage.copyObject(source, keys[i]!)
          const copy = performance.now() - t1
          const size = (await env.storage.statObject(keys[i]!))!.size
          await buffer(await env.storage.getObject(keys[i]!, { start: 0, end: Math.min(size, 256 * 1024) - 1 }))
          await buffer(await env.storage.getObject(keys[i]!, { start: size - 64, end: size - 1 }))
          await env.storage.removeObjects([source])
          if (staged?.size !== size) odd.add(`the copy of ${source} has ${size} bytes, the source ${staged?.size}`)
          return { copy, replay: performance.now() - t0 }
        }),
      )
      return { seconds: (performance.now() - t) / 1000, keys, latencies: both.map((b) => b.copy), replay: both.map((b) => b.replay) }
    }

    const clear = async (keys: string[]) => {
      await env.storage.removeObjects(keys)
      await env.s3.collectGarbage() // radosgw frees deleted large objects lazily: see BenchStore.collectGarbage
    }
    /** Runs `fn` with the gateway's (`pid`'s) CPU and RSS measured around it, and the kernel's softirq time (loopback networking is done there, charged to no process). */
    const measured = async <T>(pid: number, fn: () => Promise<T>): Promise<{ result: T; cpu: CpuReport; peakMiB: number; startMiB: number; softirq: number }> => {
      measuredGateway = pid
      const startMiB = memoryKiB(pid).rss / 1024
      const sampler = sampleRss(pid, 20)
      const irq0 = softirqSeconds()
      meter.begin()
      const result = await fn()
      const cpu = meter.end()
      const softirq = softirqSeconds() - irq0
      return { result, cpu, peakMiB: sampler.stop().peakMiB, startMiB, softirq }
    }

    // warm-up (each path twice), then the gateway at rest
    await clear((await presignedPuts(2)).keys)
    await clear((await directUploads(2)).keys)
    await clear((await streamedUploads(2)).keys)
    await clear((await completesAlone(2)).keys)
    await new Promise((r) => setTimeout(r, 300))
    const idleRss = memoryKiB(gatewayPid).rss / 1024
    const streamIdleRss = memoryKiB(streamGatewayPid).rss / 1024
    const directAtRest = probes(gateway).at(-1)
    const streamAtRest = probes(streamGateway).at(-1)

    const limits: number[] = []
    const directs: number[] = []
    const streams: number[] = []
    const limitCpus: CpuReport[] = []
    const directCpus: CpuReport[] = []
    const streamCpus: CpuReport[] = []
    const directPeaks: number[] = []
    const streamPeaks: number[] = []
    const limitLatencies: number[][] = []
    const directTimes: DirectTimes[] = []
    const streamLatencies: number[][] = []
    const copyLatencies: number[][] = []
    const copySeconds: number[] = []
    const replays: number[][] = []
    const replayStoreMs: number[] = []
    const aloneCompletes: number[][] = []
    const directStarts: number[] = []
    const createsOneUser: number[][] = []
    const createsManyUsers: number[][] = []
    const softirqs: Record<'limit' | 'direct' | 'streamed', number[]> = { limit: [], direct: [], streamed: [] }
    for (let r = 0; r < runs; r++) {
      // the limit and the direct uploads alternate which goes first; the streamed uploads come last
      const limitRun = async () => {
        const m = await measured(gatewayPid, () => presignedPuts(concurrency))
        softirqs.limit.push(m.softirq)
        limits.push(concurrency / m.result.seconds)
        limitCpus.push(m.cpu)
        limitLatencies.push(m.result.latencies)
        // the same store's server-side copy of those files, at the same concurrency, alone
        meter.begin()
        const copied = await copies(m.result.keys)
        replayStoreMs.push(((meter.end().procs.store ?? 0) / concurrency) * 1000)
        copyLatencies.push(copied.latencies)
        replays.push(copied.replay)
        copySeconds.push(copied.seconds)
        await clear([...m.result.keys, ...copied.keys])
        return m
      }
      const directRun = async () => {
        const m = await measured(gatewayPid, () => directUploads(concurrency))
        softirqs.direct.push(m.softirq)
        directStarts.push(m.startMiB)
        directs.push(concurrency / m.result.seconds)
        directCpus.push(m.cpu)
        directPeaks.push(m.peakMiB)
        directTimes.push(m.result.times)
        const staged = await env.storage.listKeys('uploads/')
        if (staged.length) odd.add(`${staged.length} staged object(s) left under uploads/ after completed direct uploads`)
        await clear(m.result.keys)
        return m
      }
      const [first, second] = r % 2 === 0 ? [limitRun, directRun] : [directRun, limitRun]
      await first()
      await second()
      createsOneUser.push((await createsOnly(Array.from({ length: concurrency }, () => auth))).latencies)
      createsManyUsers.push((await createsOnly(others)).latencies)
      const alone = await completesAlone(concurrency)
      aloneCompletes.push(alone.completes)
      await clear(alone.keys)
      const s = await measured(streamGatewayPid, () => streamedUploads(concurrency))
      softirqs.streamed.push(s.softirq)
      streams.push(concurrency / s.result.seconds)
      streamCpus.push(s.cpu)
      streamPeaks.push(s.peakMiB)
      streamLatencies.push(s.result.latencies)
      await clear(s.result.keys)
      const d = directTimes.at(-1)!
      ctx.log(
        `  run ${r + 1}: direct ${fmt(directs.at(-1)!)} uploads/s, presigned PUT ${fmt(limits.at(-1)!)} uploads/s (ratio ${fmt(directs.at(-1)! / limits.at(-1)!)}), streamed ${fmt(streams.at(-1)!)} uploads/s; ` +
          `gateway CPU per upload direct ${fmt((directCpus.at(-1)!.procs.gateway! / concurrency) * 1000)} ms, streamed ${fmt((streamCpus.at(-1)!.procs.gateway! / concurrency) * 1000)} ms; ` +
          `peak RSS direct ${directPeaks.at(-1)!.toFixed(0)} MiB, streamed ${streamPeaks.at(-1)!.toFixed(0)} MiB; complete→201 p50 ${fmt(percentile(d.complete, 50))} ms, max ${fmt(Math.max(...d.complete))} ms (alone: p50 ${fmt(percentile(alone.completes, 50))}, max ${fmt(Math.max(...alone.completes))} ms); other CPU direct ${directCpus.at(-1)!.other.toFixed(2)} s, limit ${limitCpus.at(-1)!.other.toFixed(2)} s`,
      )
    }
    const hwm = memoryKiB(gatewayPid).hwm / 1024
    const directPeakProbe = highest(probes(gateway))
    const streamPeakProbe = highest(probes(streamGateway))
    const streamHwm = memoryKiB(streamGatewayPid).hwm / 1024
    const pending = await env.database.db.selectFrom('pending_uploads').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
    if (Number(pending.n) !== createdOnly) odd.add(`${pending.n} pending_uploads row(s) left, ${createdOnly} expected (the creates sent without a file)`)
    await gateway.stop()
    await streamGateway.stop()

    const mb = (ups: number) => (ups * bytes) / 1e6
    const ratio = ratioSpread(directs, limits)
    const perUploadMs = (cpus: CpuReport[], name: string) => cpus.map((c) => ((c.procs[name] ?? 0) / concurrency) * 1000)
    const directGatewayMs = perUploadMs(directCpus, 'gateway')
    const streamGatewayMs = perUploadMs(streamCpus, 'gateway')
    const directStoreMs = perUploadMs(directCpus, 'store')
    const limitStoreMs = perUploadMs(limitCpus, 'store')
    const streamStoreMs = perUploadMs(streamCpus, 'store')
    const directDbMs = directCpus.map((c) => (c.postgresRedis / concurrency) * 1000)
    const streamDbMs = streamCpus.map((c) => (c.postgresRedis / concurrency) * 1000)
    const mid = (cpus: CpuReport[]) => cpus[Math.floor(cpus.length / 2)]!
    const all = (pick: (t: DirectTimes) => number[]) => directTimes.flatMap(pick)
    const q = (values: number[]) => `p50 ${fmt(percentile(values, 50))}, p95 ${fmt(percentile(values, 95))}, max ${fmt(Math.max(...values))} ms`
    const completes = all((t) => t.complete)
    const perRun = (p: number) => spread(directTimes.map((t) => percentile(t.complete, p)))
    const copyRun = (p: number) => spread(replays.map((l) => percentile(l, p)))
    return {
      name: 'direct-upload',
      title: `Direct uploads (${concurrency} concurrent ${(bytes / 1e6).toFixed(1)} MB PNGs: create → presigned PUT → complete, store: ${env.s3.kind})`,
      rows: [
        {
          label: `direct uploads/s, ${concurrency} at once (create → PUT → complete)`,
          figure: spread(directs),
          limit: spread(limits),
          limitLabel: `presigned PUTs of the same bytes (same adapter, same bindings) to the same ${env.s3.kind}, ${concurrency} at once, from the bench process`,
          unit: 'uploads/s',
          ratio,
          aim: `≥ ${THROUGHPUT_AIM}`,
          met: ratio.median >= THROUGHPUT_AIM,
        },
        {
          label: 'the same in MB/s',
          figure: spread(directs.map(mb)),
          limit: spread(limits.map(mb)),
          unit: 'MB/s',
          ratio,
        },
        {
          label: 'gateway CPU per direct upload (its process, /proc)',
          figure: spread(directGatewayMs),
          limit: spread(streamGatewayMs),
          limitLabel: `per streamed upload (multipart POST /api/images) of the same file, ${concurrency} at once (a gateway process of its own, same configuration)`,
          unit: 'ms',
          ratio: ratioSpread(directGatewayMs, streamGatewayMs),
        },
        {
          label: `gateway peak RSS under ${concurrency} direct uploads (VmRSS every 20 ms)`,
          figure: spread(directPeaks),
          limit: spread(streamPeaks),
          limitLabel: `under ${concurrency} streamed uploads; at rest after warm-up ${idleRss.toFixed(0)} / ${streamIdleRss.toFixed(0)} MiB`,
          unit: 'MiB',
          ratio: ratioSpread(directPeaks, streamPeaks),
        },
        {
          label: 'gateway peak RSS above rest, per upload in flight',
          figure: spread(directPeaks.map((p) => (p - idleRss) / concurrency)),
          limit: spread(streamPeaks.map((p) => (p - streamIdleRss) / concurrency)),
          limitLabel: 'streamed',
          unit: 'MiB',
        },
        {
          label: `time from sending complete to its 201, p50 (per run)`,
          figure: perRun(50),
          limit: copyRun(50),
          limitLabel: `the complete's store requests (stat, server-side copy, stat, 256 KiB + 64 B ranged GETs, delete), ${concurrency} at once from the bench, on the limit's files`,
          unit: 'ms',
          ratio: ratioSpread(perRun(50).runs, copyRun(50).runs),
        },
        { label: 'the same, p95 (per run)', figure: perRun(95), limit: copyRun(95), unit: 'ms', ratio: ratioSpread(perRun(95).runs, copyRun(95).runs) },
        { label: 'the same, max (per run)', figure: perRun(100), limit: copyRun(100), unit: 'ms', ratio: ratioSpread(perRun(100).runs, copyRun(100).runs) },
        {
          label: `complete → 201 with ${concurrency} completes sent at once after every file arrived, p50 / p95 (per run)`,
          figure: spread(aloneCompletes.map((l) => percentile(l, 50))),
          limit: spread(aloneCompletes.map((l) => percentile(l, 95))),
          limitLabel: 'p95 (not a limit)',
          unit: 'ms',
        },
        {
          label: `POST /api/uploads alone, ${concurrency} at once from one user, p50 (per run)`,
          figure: spread(createsOneUser.map((l) => percentile(l, 50))),
          limit: spread(createsManyUsers.map((l) => percentile(l, 50))),
          limitLabel: `the same from ${concurrency} users (not serialized by the per-owner lock)`,
          unit: 'ms',
          ratio: ratioSpread(createsOneUser.map((l) => percentile(l, 50)), createsManyUsers.map((l) => percentile(l, 50))),
        },
        {
          label: 'streamed uploads/s, same inputs and concurrency (for comparison)',
          figure: spread(streams),
          limit: spread(limits),
          limitLabel: 'the presigned PUTs above',
          unit: 'uploads/s',
          ratio: ratioSpread(streams, limits),
        },
      ],
      notes: [
        `store: ${env.s3.describe()}. Rate limits off (UPLOAD_RATE_LIMIT_PER_USER/IP=0), UPLOAD_PENDING_PER_USER=${PENDING_CAP}; no worker runs, so the queued jobs wait.`,
        `throughput in MB/s (medians): direct ${fmt(mb(spread(directs).median))}, presigned PUT ${fmt(mb(spread(limits).median))}, streamed ${fmt(mb(spread(streams).median))}.`,
        `direct upload phases over all runs (${completes.length} uploads): create ${q(all((t) => t.create))}; PUT ${q(all((t) => t.put))}; complete → 201 ${q(completes)}; whole upload ${q(all((t) => t.total))}.`,
        `a presigned PUT alone (the limit): ${q(limitLatencies.flat())}; a streamed upload's time to 201: ${q(streamLatencies.flat())}; the complete's store requests replayed from the bench (${concurrency} at once): ${q(replays.flat())}, of which the server-side copy ${q(copyLatencies.flat())}; ${copySeconds.map((s) => `${s.toFixed(2)} s`).join(', ')} for each batch.`,
        `per upload, direct vs streamed: Postgres+Redis ${fmt(spread(directDbMs).median)} vs ${fmt(spread(streamDbMs).median)} ms CPU; store ${fmt(spread(directStoreMs).median)} vs ${fmt(spread(streamStoreMs).median)} ms CPU (a presigned PUT alone: ${fmt(spread(limitStoreMs).median)} ms; the complete's store requests replayed from the bench: ${fmt(spread(replayStoreMs).median)} ms).`,
        `gateway memory (process.memoryUsage every 100 ms) at rest: direct's ${describeProbe(directAtRest)}; streamed's ${describeProbe(streamAtRest)}. At the highest sample: direct's ${describeProbe(directPeakProbe)}; streamed's ${describeProbe(streamPeakProbe)}.`,
        `gateway RSS at rest after warm-up: direct's ${idleRss.toFixed(0)} MiB, streamed's ${streamIdleRss.toFixed(0)} MiB; at the start of each direct round ${directStarts.map((m) => m.toFixed(0)).join(', ')} MiB; VmHWM at the end ${hwm.toFixed(0)} / ${streamHwm.toFixed(0)} MiB.`,
        `kernel softirq time (loopback TCP, charged to no process, so inside "other" below), median per round: limit ${fmt(spread(softirqs.limit).median)} s, direct ${fmt(spread(softirqs.direct).median)} s, streamed ${fmt(spread(softirqs.streamed).median)} s.`,
        `completes sent after every file arrived, all runs: ${q(aloneCompletes.flat())}.`,
        `creates alone (no file sent), ${concurrency} at once: from one user ${q(createsOneUser.flat())}; from ${concurrency} users ${q(createsManyUsers.flat())}.`,
        `direct uploads: ${describeCpu(mid(directCpus))} (middle run).`,
        `presigned PUTs: ${describeCpu(mid(limitCpus))} (middle run).`,
        `streamed uploads: ${describeCpu(mid(streamCpus))} (middle run).`,
        ...[...odd].map((line) => `odd: ${line}`),
      ],
      details: {
        store: env.s3.kind,
        bytes,
        concurrency,
        limits,
        directs,
        streams,
        limitCpus,
        directCpus,
        streamCpus,
        directPeaks,
        streamPeaks,
        idleRss,
        hwm,
        directTimes,
        limitLatencies,
        streamLatencies,
        copyLatencies,
        copySeconds,
        replays,
        replayStoreMs,
        probes: { directAtRest, streamAtRest, directPeakProbe, streamPeakProbe },
        aloneCompletes,
        createsOneUser,
        createsManyUsers,
        directStarts,
        streamIdleRss,
        streamHwm,
        softirqs,
        odd: [...odd],
      },
      seconds: (performance.now() - started) / 1000,
    }
  } finally {
    await env.cleanup.run()
  }
}

/** Machine-wide CPU seconds spent in hard and soft interrupts (/proc/stat's irq and softirq). */
function softirqSeconds(): number {
  const values = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  return ((values[5] ?? 0) + (values[6] ?? 0)) / 100
}
