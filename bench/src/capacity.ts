import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { createThumbnailQueue, THUMBNAIL_QUEUE } from '@imageapi/queue'
import { createTestUser, startRedisServer, waitFor, type RunningService } from '@imageapi/testkit'
import { Cleanup, createBenchEnvironment } from './lib/environment.js'
import { cpuDelta, cpuSnapshot, diffCounts, PgStats, redisCommandStats, redisPid, RgwCounters } from './lib/counters.js'
import { json, login, request, upload, uploadBody, type UploadedImage } from './lib/http.js'
import type { BenchResult, ResultRow } from './lib/report.js'
import { fmt } from './lib/stats.js'
import type { BenchContext } from './main.js'

/**
 * Capacity (issue 14 item 5): what one operation costs, counted over a run of N of them with
 * nothing else going on. For each operation: CPU ms per service (/proc: gateway, links, worker,
 * the store's daemons, the Postgres backends of the run's database, the run's own redis-server;
 * each process's rate at rest, measured first, is subtracted), Redis commands (`INFO commandstats`
 * deltas on a Redis of the run's own, commands run inside scripts included), Postgres transactions
 * and rows (`pg_stat_database` deltas of the run's own database, read from the `postgres`
 * database after an 11 s wait for backends to flush their statistics), S3 requests and bytes
 * (radosgw's own counters: `ceph --admin-daemon <radosgw asok> perf dump`, section rgw).
 * `pnpm bench capacity`.
 */

const STATS_FLUSH_MS = 11_000 // PostgreSQL 15 backends flush pending statistics within 10 s when idle

interface Window {
  op: string
  n: number
  wallSeconds: number
  cpuMs: Record<string, number>
  redis: Record<string, number>
  pg: Record<string, number>
  s3: Record<string, number>
  extra?: string
}

export async function capacityBenchmark(ctx: BenchContext): Promise<BenchResult> {
  const started = performance.now()
  const own = new Cleanup()
  try {
    const redisServer = await startRedisServer(own)
    const env = await createBenchEnvironment('capacity', { redisUrl: redisServer.url })
    try {
      return await measure(ctx, env, redisServer.port, started)
    } finally {
      await env.cleanup.run()
    }
  } finally {
    await own.run()
  }
}

async function measure(ctx: BenchContext, env: Awaited<ReturnType<typeof createBenchEnvironment>>, redisPort: number, started: number): Promise<BenchResult> {
  const uploads = Number(process.env.BENCH_CAPACITY_UPLOADS ?? (ctx.quick ? 6 : 30))
  const views = ctx.quick ? 500 : 3000
  const listings = ctx.quick ? 50 : 300
  const expiring = ctx.quick ? 4 : 20
  const redisProcess = redisPid(redisPort)
  const redis = new Redis(env.redisUrl)
  const pgStats = new PgStats(env.database.url, env.database.name)
  await pgStats.connect()
  const rgw = new RgwCounters(env.s3.pids())
  const queue = createThumbnailQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })

  const links = await env.start('links')
  const gateway = await env.start('gateway', { LINKS_URL: links.url! })
  const forwarding = await env.start('gateway', { LINKS_URL: links.url!, VIEW_ANSWER_CACHE_BYTES: '0' })
  let worker: RunningService | undefined
  // the gateway with its answer memory off is counted apart (it serves only its own row) and added into the table's gateway column
  const pids = () => ({ gateway: gateway.process.pid!, 'gateway-fwd': forwarding.process.pid!, links: links.process.pid!, worker: worker?.process.pid, store: env.s3.pids(), redis: redisProcess })
  const premium = await createTestUser(env.repos, 'Premium')
  const enterprise = await createTestUser(env.repos, 'Enterprise')
  const token = await login(gateway.url!, premium.email, premium.password)
  const entToken = await login(gateway.url!, enterprise.email, enterprise.password)
  const form = uploadBody(ctx.jpeg.data, 'jpeg')
  // warm-up, not counted: JIT, pools
  for (let i = 0; i < 2; i++) await upload(gateway.url!, token, form)

  // each process's CPU at rest (the store's daemons tick), subtracted from every window
  const idleSeconds = ctx.quick ? 4 : 10
  await sleep(STATS_FLUSH_MS)
  const idle0 = cpuSnapshot(pids(), env.database.name)
  const idleRedis0 = await redisCommandStats(redis)
  await sleep(idleSeconds * 1000)
  const idleCpu = cpuDelta(idle0, cpuSnapshot(pids(), env.database.name))
  const idleRedis = diffCounts(idleRedis0, await redisCommandStats(redis))
  const idleRate = Object.fromEntries(Object.entries(idleCpu).map(([k, s]) => [k, s / idleSeconds]))
  ctx.log(`  at rest (CPU ms/s): ${Object.entries(idleRate).map(([k, v]) => `${k} ${(v * 1000).toFixed(1)}`).join(', ')}; Redis commands in ${idleSeconds} s: ${JSON.stringify(idleRedis)}`)

  const windows: Window[] = []
  /** Counts one operation, run `n` times inside fn; `ownRedisCommands`: the bench's own commands in the window, subtracted. */
  const counted = async (op: string, n: number, fn: () => Promise<Record<string, number> | void>, extra?: string) => {
    await sleep(STATS_FLUSH_MS)
    const pg0 = await pgStats.read()
    const s30 = await rgw.read()
    const r0 = await redisCommandStats(redis)
    const c0 = cpuSnapshot(pids(), env.database.name)
    const t0 = performance.now()
    const own = (await fn()) ?? {}
    const wallSeconds = (performance.now() - t0) / 1000
    const c1 = cpuSnapshot(pids(), env.database.name)
    const r1 = await redisCommandStats(redis)
    const s31 = await rgw.read()
    await sleep(STATS_FLUSH_MS)
    const pg1 = await pgStats.read()
    const cpu = cpuDelta(c0, c1)
    const cpuMs: Record<string, number> = {}
    for (const [k, s] of Object.entries(cpu)) cpuMs[k] = Math.max(0, s - (idleRate[k] ?? 0) * wallSeconds) * 1000
    const redisDelta = diffCounts(r0, r1)
    delete redisDelta.info // our own snapshots
    for (const [k, v] of Object.entries(own)) redisDelta[k] = (redisDelta[k] ?? 0) - v
    const w: Window = { op, n, wallSeconds, cpuMs, redis: redisDelta, pg: diffCounts(pg0, pg1), s3: diffCounts(s30, s31), extra }
    windows.push(w)
    ctx.log(`  ${op}: ${n} in ${wallSeconds.toFixed(2)} s; CPU ms/op ${Object.entries(cpuMs).map(([k, v]) => `${k} ${(v / n).toFixed(2)}`).join(', ')}`)
    return w
  }

  const lanes = async (total: number, inFlight: number, one: (i: number) => Promise<void>) => {
    let next = 0
    await Promise.all(Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < total; i = next++) await one(i)
    }))
  }
  const get = async (url: string, headers: Record<string, string> = {}) => {
    const res = await request(url, { keepAlive: true, headers })
    if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status} ${res.body.subarray(0, 200).toString()}`)
    return res
  }

  // 1. uploads: the Premium tier (200 + 400 px, original link), no worker running: the upload alone
  const uploaded: UploadedImage[] = []
  await counted(`upload, ${(ctx.jpeg.data.length / 1e6).toFixed(2)} MB JPEG, Premium (201 answered)`, uploads, async () => {
    for (let i = 0; i < uploads; i++) uploaded.push((await upload(gateway.url!, token, form)).image)
  })

  // 2. the thumbnail jobs of those uploads: released to one worker (default concurrency) at once
  await queue.pause()
  worker = await env.start('thumbnail-worker')
  const eventsKey = `${env.queuePrefix}:${THUMBNAIL_QUEUE}:events`
  await counted(`thumbnail job (2 heights from the 12 MP JPEG), 1 worker × default concurrency`, uploads + 2, async () => {
    let cursor = (await redis.xrevrange(eventsKey, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0'
    let reads = 1
    await queue.resume()
    let completed = 0
    const deadline = Date.now() + 180_000
    while (completed < uploads + 2) {
      if (Date.now() > deadline) throw new Error('thumbnail jobs did not complete in 180 s')
      const res = (await redis.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', eventsKey, cursor)) as Array<[string, Array<[string, string[]]>]> | null
      reads++
      for (const [, entries] of res ?? []) {
        for (const [id, fields] of entries) {
          cursor = id
          const event = fields[fields.indexOf('event') + 1]
          if (event === 'completed') completed++
          if (event === 'failed') throw new Error(`a thumbnail job failed: ${fields.join(' ')}`)
        }
      }
    }
    return { xrevrange: 1, xread: reads - 1 }
  }, 'includes one queue resume (a script) for the batch; the bench\'s own XREAD/XREVRANGE are subtracted')

  // the images as the API lists them now, with their links
  const page = json<{ items: UploadedImage[] }>(await get(`${gateway.url}/api/images?limit=100`, { authorization: `Bearer ${token}` }))
  const linksOf = (height: number) => page.items.map((i) => i.thumbnails.find((t) => t.height === height)?.url).filter((u): u is string => !!u)
  const thumbs200 = linksOf(200)
  const thumbs400 = linksOf(400)
  if (thumbs200.length < uploads) throw new Error(`only ${thumbs200.length} ready 200 px links`)
  const via = (base: string, link: string) => `${base}${new URL(link).pathname}`

  // 3. listing pages
  await counted('listing page (GET /api/images?limit=20, 20 items with 3 signed links each)', listings, () =>
    lanes(listings, 4, async () => void (await get(`${gateway.url}/api/images?limit=20`, { authorization: `Bearer ${token}` }))),
  )

  // 4. the first view of each thumbnail link: nothing cached anywhere (token, rights, body)
  const cold = [...thumbs200, ...thumbs400].slice(0, 2 * uploads)
  await counted('view of a thumbnail link, first (cold: gateway, links rights and body caches empty)', cold.length, () =>
    lanes(cold.length, 4, async (i) => void (await get(via(gateway.url!, cold[i]!)))),
  )
  // 5. one hot link over and over through the gateway (its answer memory on: the default)
  const hot = via(gateway.url!, thumbs200[0]!)
  await get(hot)
  await counted('view of a thumbnail link, hot, via the gateway (answer memory on, the default)', views, () => lanes(views, 8, async () => void (await get(hot))))
  // 6. the same through a gateway with its answer memory off: every view reaches the links service (its rights and body caches hot)
  const hotFwd = via(forwarding.url!, thumbs200[0]!)
  await get(hotFwd)
  await counted('view of a thumbnail link, hot, via a gateway with answer memory off (every view forwarded to links)', views, () => lanes(views, 8, async () => void (await get(hotFwd))))

  // expiring links: an Enterprise user's images (uploaded and thumbnailed outside any window)
  const entImages: string[] = []
  for (let i = 0; i < expiring; i++) entImages.push((await upload(gateway.url!, entToken, form)).image.id)
  await waitFor(
    async () => {
      for (const id of entImages) {
        const image = json<UploadedImage>(await get(`${gateway.url}/api/images/${id}`, { authorization: `Bearer ${entToken}` }))
        if (image.thumbnails.some((t) => t.status !== 'ready')) return false
      }
      return true
    },
    { timeoutMs: 120_000, intervalMs: 200, what: 'the Enterprise images\' thumbnails' },
  )
  const expiringLinks: string[] = []
  // 7. creating an expiring link
  await counted('create an expiring link (POST /api/images/:id/links, 200 px, 3600 s)', expiring, async () => {
    for (const id of entImages) {
      const res = await request(`${gateway.url}/api/images/${id}/links`, {
        body: Buffer.from(JSON.stringify({ seconds: 3600, variant: 200 })),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${entToken}` },
        keepAlive: true,
      })
      if (res.status !== 201) throw new Error(`expiring link: HTTP ${res.status} ${res.body.toString()}`)
      expiringLinks.push(json<{ url: string }>(res).url)
    }
  })
  // 8. first view of each expiring link; 9. one expiring link over and over
  await counted('view of an expiring link, first (cold)', expiringLinks.length, () =>
    lanes(expiringLinks.length, 4, async (i) => void (await get(via(gateway.url!, expiringLinks[i]!)))),
  )
  const hotExp = via(gateway.url!, expiringLinks[0]!)
  await get(hotExp)
  await counted('view of an expiring link, hot, via the gateway (answer memory on)', views, () => lanes(views, 8, async () => void (await get(hotExp))))

  const sample = await get(hot)
  const sampleExp = await get(hotExp)
  const original = page.items[0]!.original?.url
  const sampleOrig = original ? await get(via(gateway.url!, original)) : undefined
  await worker.stop()
  await queue.close()
  redis.disconnect()
  await pgStats.close()

  // the report
  const per = (v: number | undefined, n: number) => (v ?? 0) / n
  const services = ['gateway', 'links', 'worker', 'store', 'postgres', 'redis']
  const lines: string[] = [
    '| operation | n | ' + services.map((s) => `${s} CPU ms`).join(' | ') + ' | total CPU ms | Redis cmds (scripts) | PG xacts | PG rows ins/upd/del | S3 req (GET/PUT) | S3 bytes in / out |',
    '|---|---|' + services.map(() => '---|').join('') + '---|---|---|---|---|---|',
  ]
  const rows: ResultRow[] = []
  for (const w of windows) {
    const total = Object.values(w.cpuMs).reduce((a, b) => a + b, 0)
    const cpu: Record<string, number> = { ...w.cpuMs, gateway: (w.cpuMs.gateway ?? 0) + (w.cpuMs['gateway-fwd'] ?? 0) }
    const redisCalls = Object.entries(w.redis).reduce((a, [, v]) => a + v, 0)
    const scripts = (w.redis.evalsha ?? 0) + (w.redis.eval ?? 0) + (w.redis.fcall ?? 0)
    lines.push(
      `| ${w.op} | ${w.n} | ${services.map((s) => fmt(per(cpu[s], w.n), 3)).join(' | ')} | ${fmt(total / w.n)} | ${fmt(redisCalls / w.n)} (${fmt(scripts / w.n)}) | ${fmt(per(w.pg.xact_commit, w.n))} | ${fmt(per(w.pg.tup_inserted, w.n))} / ${fmt(per(w.pg.tup_updated, w.n))} / ${fmt(per(w.pg.tup_deleted, w.n))} | ${fmt(per(w.s3.req, w.n))} (${fmt(per(w.s3.get, w.n))}/${fmt(per(w.s3.put, w.n))}) | ${fmt(per(w.s3.put_b, w.n))} / ${fmt(per(w.s3.get_b, w.n))} |`,
    )
    rows.push({ label: `${w.op}: CPU ms per operation, all services (n = ${w.n}, ${w.wallSeconds.toFixed(2)} s)`, figure: { median: total / w.n, min: total / w.n, max: total / w.n, runs: [total / w.n] }, unit: 'ms' })
  }
  const notes = [
    '```md\n' + lines.join('\n') + '\n```',
    `CPU: /proc utime+stime of each process over the window, minus its rate at rest × the window (at rest, CPU ms/s: ${Object.entries(idleRate).map(([k, v]) => `${k} ${(v * 1000).toFixed(1)}`).join(', ')}); gateway = both gateway processes (gateway-fwd, the one with its answer memory off, serves only its own row; the raw lines below show them apart); postgres = the backends of the run's database (not the WAL writer, checkpointer or autovacuum); redis = the run's own redis-server (127.0.0.1:${redisPort}); store = ceph-mon + ceph-osd + radosgw.`,
    `Redis: INFO commandstats deltas (calls), commands run inside scripts (EVALSHA) counted as well as the EVALSHA itself; our INFO snapshots excluded. At rest, over ${idleSeconds} s: ${JSON.stringify(idleRedis)}.`,
    `Postgres: pg_stat_database deltas of the run's database (xact_commit; tup_inserted / tup_updated / tup_deleted); pg_stat_statements is not loaded on this server (shared_preload_libraries empty), so statements are not counted apart from transactions.`,
    `S3: ${rgw.describe()} — rgw counters req (every S3 request), get / put (object GETs / PUTs), get_b / put_b (bytes out / in) — the store's own count, not the client's.`,
    `sizes: thumbnail 200 px ${sample.body.length} B (cache-control: ${sample.headers['cache-control']}); expiring 200 px ${sampleExp.body.length} B (cache-control: ${sampleExp.headers['cache-control']}); original ${sampleOrig?.body.length ?? '—'} B (cache-control: ${sampleOrig?.headers['cache-control'] ?? '—'}).`,
    ...windows.filter((w) => w.extra).map((w) => `${w.op}: ${w.extra}`),
    ...windows.map((w) => `${w.op}: Redis ${JSON.stringify(w.redis)}; PG ${JSON.stringify(w.pg)}; S3 ${JSON.stringify(w.s3)}; CPU ms ${JSON.stringify(Object.fromEntries(Object.entries(w.cpuMs).map(([k, v]) => [k, Math.round(v)])))}`),
  ]
  return { name: 'capacity', title: 'Capacity: what one operation costs (counted run)', rows, notes, details: { windows, idleRate, idleRedis, sizes: { thumb200: sample.body.length, expiring200: sampleExp.body.length, original: sampleOrig?.body.length } }, seconds: (performance.now() - started) / 1000 }
}
