import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { createTestUser, waitFor } from '@imageapi/testkit'
import { createBenchEnvironment, startHelper } from '../lib/environment.js'
import { json, login, request, upload, uploadBody, type UploadedImage } from '../lib/http.js'
import { attribute, CpuMeter, describeCpu, type CpuReport } from '../lib/procstat.js'
import type { BenchResult, ResultRow } from '../lib/report.js'
import { fmt, ratioSpread, spread } from '../lib/stats.js'
import { runWrk, type WrkResult } from '../lib/wrk.js'
import type { BenchContext } from '../main.js'

/**
 * 4. View serving: one 200 px thumbnail link opened over and over (wrk, 50 keep-alive
 * connections, 10 s, latency percentiles), through the gateway and straight to the links service,
 * against a minimal node:http server answering the same bytes from memory (the limit),
 * @fastify/static serving them from disk, and (to show what the framework alone costs) Fastify
 * with one route answering them from memory. Each target runs in its own process.
 * The link is the thumbnail's negotiable URL, opened with a browser's Accept: the links service
 * chooses a representation on every request (with the default formats, WebP), and the limit
 * serves those same bytes.
 * Aims: direct ≥ 0.5 × the limit, via the gateway ≥ 0.35 × the limit (requests/s).
 */

/** What Chrome sends for an <img>: negotiation picks the best enabled rendition format. */
const BROWSER_ACCEPT = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8'

const CONNECTIONS = 50

export async function viewBenchmark(ctx: BenchContext): Promise<BenchResult> {
  const started = performance.now()
  const env = await createBenchEnvironment('view')
  const dir = mkdtempSync(join(tmpdir(), 'bench-view-'))
  env.cleanup.teardown(() => rmSync(dir, { recursive: true, force: true }))
  try {
    const seconds = ctx.quick ? 3 : 10
    const runs = ctx.quick ? 1 : 3
    const links = await env.start('links')
    const gateway = await env.start('gateway', { LINKS_URL: links.url! })
    // the same gateway with its memory of hot answers off: every view pays the hop to the links service
    const forwarding = await env.start('gateway', { LINKS_URL: links.url!, VIEW_ANSWER_CACHE_BYTES: '0' })
    const worker = await env.start('thumbnail-worker')
    const owner = await createTestUser(env.repos, 'Premium')
    const token = await login(gateway.url!, owner.email, owner.password)
    const { image } = await upload(gateway.url!, token, uploadBody(ctx.jpeg.data, 'jpeg'))
    const ready = await waitFor(
      async () => {
        const res = await request(`${gateway.url}/api/images/${image.id}`, { headers: { authorization: `Bearer ${token}` } })
        const body = json<UploadedImage>(res)
        const thumb = body.thumbnails.find((t) => t.height === 200)
        // ready in its source format and at least one rendition format (the defaults: WebP)
        return thumb?.status === 'ready' && Object.keys(thumb.formats ?? {}).length > 1 ? thumb : undefined
      },
      { timeoutMs: 60_000, what: 'the 200 px thumbnail, in a rendition format too' },
    )
    await worker.stop()
    const path = new URL(ready.url!).pathname
    const viaGateway = `${gateway.url}${path}`
    const direct = `${links.url}${path}`
    const first = await request(viaGateway, { headers: { accept: BROWSER_ACCEPT } })
    if (first.status !== 200) throw new Error(`link answered ${first.status}`)
    if (first.headers['content-type'] === 'image/jpeg') throw new Error("a browser's Accept got the JPEG, not a rendition")
    const bytes = first.body
    const file = join(dir, `thumb-200.${String(first.headers['content-type']).split('/')[1]}`)
    writeFileSync(file, bytes)
    const memory = await startHelper(env.cleanup, 'src/lib/static-main.ts', ['memory', file])
    const fstatic = await startHelper(env.cleanup, 'src/lib/static-main.ts', ['fastify-static', file])
    const fmemory = await startHelper(env.cleanup, 'src/lib/static-main.ts', ['fastify-memory', file])
    const targets = [
      { key: 'limit', label: 'node:http from memory (limit)', url: `${memory.url}/${basename(file)}`, pids: { server: memory.pid } },
      { key: 'fastify', label: 'Fastify, one route, from memory', url: `${fmemory.url}/${basename(file)}`, pids: { server: fmemory.pid } },
      { key: 'static', label: '@fastify/static from disk', url: `${fstatic.url}/${basename(file)}`, pids: { server: fstatic.pid } },
      { key: 'direct', label: 'links service, direct', url: direct, pids: { links: links.process.pid } },
      { key: 'gateway', label: 'via the gateway → links', url: viaGateway, pids: { gateway: gateway.process.pid, links: links.process.pid } },
      {
        key: 'forwarding',
        label: 'via the gateway, its answer memory off (every view forwarded)',
        url: `${forwarding.url}${path}`,
        pids: { gateway: forwarding.process.pid, links: links.process.pid },
      },
    ] as const
    for (const target of targets) {
      const res = await request(target.url, { headers: { accept: BROWSER_ACCEPT } })
      if (res.status !== 200 || !res.body.equals(bytes)) throw new Error(`${target.label} did not answer the thumbnail's bytes (HTTP ${res.status}, ${res.body.length} B)`)
    }

    const results: Record<string, WrkResult[]> = Object.fromEntries(targets.map((t) => [t.key, []]))
    const cpus: Record<string, CpuReport[]> = Object.fromEntries(targets.map((t) => [t.key, []]))
    // warm-up: JIT, the links service's rights and body caches, the gateway's upstream pool
    const headers = { accept: BROWSER_ACCEPT }
    for (const target of targets) await runWrk(target.url, { connections: CONNECTIONS, seconds: 1, headers })
    for (let r = 0; r < runs; r++) {
      for (const target of targets) {
        const meter = new CpuMeter(() => ({ ...target.pids }), env.database.name)
        meter.begin()
        const result = await runWrk(target.url, { connections: CONNECTIONS, seconds, headers })
        cpus[target.key]!.push(attribute(meter.end(), 'wrk', result.cpuSeconds))
        if (result.non2xx || result.socketErrors) throw new Error(`${target.label}: ${result.non2xx} non-2xx answers, ${result.socketErrors} socket errors`)
        results[target.key]!.push(result)
        ctx.log(`  run ${r + 1} ${target.label}: ${fmt(result.requestsPerSecond)} req/s, p99 ${fmt(result.p99ms)} ms`)
      }
    }
    const rps = (key: string) => results[key]!.map((x) => x.requestsPerSecond)
    const p99 = (key: string) => results[key]!.map((x) => x.p99ms)
    const p50 = (key: string) => results[key]!.map((x) => x.p50ms)
    const rows: ResultRow[] = []
    const aims: Record<string, number | undefined> = { direct: 0.5, gateway: 0.35 }
    for (const target of targets.slice(1)) {
      const ratio = ratioSpread(rps(target.key), rps('limit'))
      const aim = aims[target.key]
      rows.push({
        label: `${target.label}: requests/s`,
        figure: spread(rps(target.key)),
        limit: spread(rps('limit')),
        limitLabel: 'node:http from memory',
        unit: 'req/s',
        ratio,
        ...(aim !== undefined ? { aim: `≥ ${aim}`, met: ratio.median >= aim } : {}),
      })
      rows.push({
        label: `${target.label}: p99 latency (p50 ${fmt(spread(p50(target.key)).median)} ms)`,
        figure: spread(p99(target.key)),
        limit: spread(p99('limit')),
        limitLabel: `node:http (p50 ${fmt(spread(p50('limit')).median)} ms)`,
        unit: 'ms',
        ratio: ratioSpread(p99(target.key), p99('limit')),
      })
    }
    const notes = [
      `thumbnail ${bytes.length} B (${first.headers['content-type']}, negotiated from a browser's Accept on every request); wrk ${ctx.machine.wrk}: 1 thread, ${CONNECTIONS} keep-alive connections, ${seconds} s per run, ${runs} runs per target, targets interleaved; wrk takes up to one of the ${ctx.machine.cores} cores.`,
      ...targets.map((t) => {
        const mid = cpus[t.key]![Math.floor(runs / 2)]!
        const served = results[t.key]![Math.floor(runs / 2)]!.requests
        const perRequest = Object.entries(mid.procs)
          .filter(([name]) => name !== 'wrk')
          .map(([name, s]) => `${name} ${((s / served) * 1e6).toFixed(0)} µs`)
          .join(', ')
        return `${t.label}: ${describeCpu(mid)}; CPU per request: ${perRequest}`
      }),
    ]
    await gateway.stop()
    await forwarding.stop()
    await links.stop()
    return {
      name: 'view',
      title: `4. View serving (200 px thumbnail link, wrk ${CONNECTIONS} connections)`,
      rows,
      notes,
      details: { results: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.map(({ raw: _raw, ...rest }) => rest)])), cpus, bytes: bytes.length },
      seconds: (performance.now() - started) / 1000,
    }
  } finally {
    await env.cleanup.run()
  }
}
