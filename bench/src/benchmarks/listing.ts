import pg from 'pg'
import { Kysely, PostgresDialect } from 'kysely'
import { createRepositories, type Database } from '@imageapi/db'
import { createTestUser } from '@imageapi/testkit'
import { createBenchEnvironment } from '../lib/environment.js'
import { json, login, request } from '../lib/http.js'
import { attribute, CpuMeter, describeCpu, type CpuReport } from '../lib/procstat.js'
import type { BenchResult, ResultRow } from '../lib/report.js'
import { fmt, percentile, ratioSpread, spread, type Spread } from '../lib/stats.js'
import { runWrk, type WrkResult } from '../lib/wrk.js'
import type { BenchContext } from '../main.js'

/**
 * 5. Listing at scale: GET /api/images (20 per page) for one user with 10k images, then with 1M
 * (rows seeded with insert … select generate_series, each image with a ready 200 and 400 px
 * thumbnail row, then VACUUM ANALYZE), first page and a deep page (a cursor 90% of the way down).
 * Load: wrk, 10 keep-alive connections. Limit: the statements the request makes (the account, then
 * the page with its thumbnails), captured from the repositories and replayed straight from a pool of
 * 10 connections in this process, same concurrency.
 * Aim: p99 at 1M ≤ 1.5 × p99 at 10k. EXPLAIN (ANALYZE, BUFFERS) plans are kept in the notes.
 */

const CONNECTIONS = 10
const PAGE = 20
const AIM = 1.5

/** A statement as a repository sends it: text and parameters, replayed as they are. */
interface Statement {
  sql: string
  parameters: readonly unknown[]
}

/**
 * The statements one GET /api/images sends (the account, then the page with its thumbnails),
 * captured from the repositories as they send them, so the limit replays exactly what the request
 * runs, whatever shape the repositories give their queries.
 */
async function captureListingStatements(databaseUrl: string, ownerId: string, deepSeq: number): Promise<Record<'account' | 'firstPage' | 'deepPage', Statement>> {
  const sent: Statement[] = []
  const recording = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: databaseUrl, max: 1 }) }),
    log: (event) => {
      if (event.level === 'query') sent.push({ sql: event.query.sql, parameters: event.query.parameters })
    },
  })
  try {
    const repos = createRepositories(recording)
    const take = async (run: () => Promise<unknown>): Promise<Statement> => {
      sent.length = 0
      await run()
      if (sent.length !== 1) throw new Error(`expected one statement, the repository sent ${sent.length}: update the listing benchmark`)
      return sent[0]!
    }
    return {
      account: await take(() => repos.users.findWithTier(ownerId)),
      firstPage: await take(() => repos.images.listByOwner(ownerId, { limit: PAGE })),
      deepPage: await take(() => repos.images.listByOwner(ownerId, { limit: PAGE, afterSeq: deepSeq })),
    }
  } finally {
    await recording.destroy()
  }
}

interface Case {
  label: string
  scale: number
  page: 'first' | 'deep'
  gateway: WrkResult[]
  gatewayCpu: CpuReport[]
  sql: Array<{ p50: number; p99: number; perSecond: number }>
}

export async function listingBenchmark(ctx: BenchContext): Promise<BenchResult> {
  const started = performance.now()
  const env = await createBenchEnvironment('listing')
  const client = new pg.Client({ connectionString: env.database.url })
  await client.connect()
  const pool = new pg.Pool({ connectionString: env.database.url, max: CONNECTIONS })
  try {
    const scales = ctx.quick ? [10_000, 100_000] : [10_000, 1_000_000]
    const seconds = ctx.quick ? 2 : 4
    const sqlSeconds = ctx.quick ? 1 : 2
    const runs = ctx.quick ? 1 : 3
    const gateway = await env.start('gateway')
    const owner = await createTestUser(env.repos, 'Premium')
    const ownerId = owner.user.id
    const token = await login(gateway.url!, owner.email, owner.password)
    const auth = { authorization: `Bearer ${token}` }
    const meter = new CpuMeter(() => ({ gateway: gateway.process.pid, bench: process.pid }), env.database.name)

    const cases: Case[] = []
    const plans: string[] = []
    const seeding: string[] = []
    // A second, older account with 10k images: once the first has 1M newer ones, its listing shows
    // whether the planner still walks (owner_id, seq) or scans the global seq index past 1M rows.
    const other = await createTestUser(env.repos, 'Premium')
    await seed(client, other.user.id, 0, 10_000)
    const otherToken = await login(gateway.url!, other.email, other.password)
    let seeded = 0
    const measure = async (label: string, scale: number, page: 'first' | 'deep', url: string, headers: Record<string, string>, sqlArgs: { owner: string; afterSeq?: number }, caseRuns: number) => {
      const c: Case = { label, scale, page, gateway: [], gatewayCpu: [], sql: [] }
      const statements = await captureListingStatements(env.database.url, sqlArgs.owner, sqlArgs.afterSeq ?? 0)
      const pageStatement = page === 'first' ? statements.firstPage : statements.deepPage
      for (let r = 0; r < caseRuns; r++) {
        meter.begin()
        const result = await runWrk(url, { connections: CONNECTIONS, seconds, headers })
        c.gatewayCpu.push(attribute(meter.end(), 'wrk', result.cpuSeconds))
        if (result.non2xx || result.socketErrors) throw new Error(`listing: ${result.non2xx} non-2xx answers, ${result.socketErrors} socket errors`)
        c.gateway.push(result)
        c.sql.push(await sqlLimit(pool, [statements.account, pageStatement], sqlSeconds))
        ctx.log(`  ${label} run ${r + 1}: gateway ${fmt(result.requestsPerSecond)} req/s p50 ${fmt(result.p50ms)} p99 ${fmt(result.p99ms)} ms; SQL alone p50 ${fmt(c.sql.at(-1)!.p50)} p99 ${fmt(c.sql.at(-1)!.p99)} ms`)
      }
      cases.push(c)
      plans.push(await explain(client, label, pageStatement, label.includes('beside') ? undefined : statements.account))
    }
    for (const scale of scales) {
      const t = performance.now()
      await seed(client, ownerId, seeded, scale)
      seeded = scale
      seeding.push(`${scale.toLocaleString('en')} images (+${(scale * 2).toLocaleString('en')} thumbnail rows) seeded and analysed in ${((performance.now() - t) / 1000).toFixed(1)} s`)
      ctx.log(`  ${seeding.at(-1)}`)
      const deepSeq = Number((await client.query('select seq from images where owner_id = $1 order by seq desc offset $2 limit 1', [ownerId, Math.floor(scale * 0.9)])).rows[0].seq)
      const cursor = Buffer.from(`s:${deepSeq}`).toString('base64url')
      const urls = { first: `${gateway.url}/api/images`, deep: `${gateway.url}/api/images?cursor=${cursor}` }
      for (const page of ['first', 'deep'] as const) {
        const check = json<{ items: unknown[]; next_cursor: string | null }>(await request(urls[page], { headers: auth }))
        if (check.items.length !== PAGE || !check.next_cursor) throw new Error(`${page} page at ${scale}: ${check.items.length} items`)
      }
      // warm-up: caches, JIT
      await runWrk(urls.first, { connections: CONNECTIONS, seconds: 2, headers: auth })
      await runWrk(urls.deep, { connections: CONNECTIONS, seconds: 1, headers: auth })
      for (const page of ['first', 'deep'] as const) {
        await measure(`${scale.toLocaleString('en')} images, ${page} page`, scale, page, urls[page], auth, { owner: ownerId, ...(page === 'deep' ? { afterSeq: deepSeq } : {}) }, runs)
      }
    }
    // The last page of the big account: its few oldest images, then nothing but the older account's
    // rows below the cursor. The plan must stop after those few rows, not read the older account's.
    const lastSeq = Number((await client.query('select seq from images where owner_id = $1 order by seq asc offset 9 limit 1', [ownerId])).rows[0].seq)
    const lastPage = await captureListingStatements(env.database.url, ownerId, lastSeq)
    plans.push(
      await explain(
        client,
        `last page of the ${seeded.toLocaleString('en')}-image account (9 of its images left below the cursor, then only the older account's 10,000), as the repository asks it`,
        lastPage.deepPage,
      ),
    )
    const otherAuth = { authorization: `Bearer ${otherToken}` }
    await runWrk(`${gateway.url}/api/images`, { connections: CONNECTIONS, seconds: 1, headers: otherAuth })
    await measure(`10,000-image account beside the ${seeded.toLocaleString('en')}-image one, first page`, 10_000, 'first', `${gateway.url}/api/images`, otherAuth, { owner: other.user.id }, 1)
    await gateway.stop()

    const rows: ResultRow[] = []
    const [small, large] = scales as [number, number]
    const get = (scale: number, page: string) => cases.find((c) => c.scale === scale && c.page === page && !c.label.includes('beside'))!
    for (const c of cases) {
      const p99 = c.gateway.map((g) => g.p99ms)
      const sqlP99 = c.sql.map((s) => s.p99)
      rows.push({
        label: `${c.label}: p99 (p50 ${fmt(spread(c.gateway.map((g) => g.p50ms)).median)} ms, ${fmt(spread(c.gateway.map((g) => g.requestsPerSecond)).median)} req/s)`,
        figure: spread(p99),
        limit: spread(sqlP99),
        limitLabel: `SQL alone (p50 ${fmt(spread(c.sql.map((s) => s.p50)).median)} ms, ${fmt(spread(c.sql.map((s) => s.perSecond)).median)}/s)`,
        unit: 'ms',
        ratio: ratioSpread(p99, sqlP99),
      })
    }
    for (const page of ['first', 'deep'] as const) {
      const a = get(small, page).gateway.map((g) => g.p99ms)
      const b = get(large, page).gateway.map((g) => g.p99ms)
      const ratio = ratioSpread(b, a)
      rows.push({
        label: `${page} page: p99 at ${large.toLocaleString('en')} vs ${small.toLocaleString('en')}`,
        figure: spread(b),
        limit: spread(a),
        limitLabel: `p99 at ${small.toLocaleString('en')}`,
        unit: 'ms',
        ratio,
        aim: `≤ ${AIM}`,
        met: ratio.median <= AIM,
      })
    }
    const notes = [
      ...seeding,
      `wrk: 1 thread, ${CONNECTIONS} keep-alive connections, ${seconds} s per run, ${runs} runs; SQL alone: the request's statements (captured from the repositories) on a pool of ${CONNECTIONS}, ${sqlSeconds} s per run.`,
      ...cases.map((c) => {
        const mid = Math.floor(c.gateway.length / 2)
        return `${c.label}: ${describeCpu(c.gatewayCpu[mid]!)}; gateway CPU per request ${(((c.gatewayCpu[mid]!.procs.gateway ?? 0) / c.gateway[mid]!.requests) * 1e3).toFixed(2)} ms`
      }),
      'EXPLAIN (ANALYZE, BUFFERS) of the statements a listing request runs:',
      ...plans,
    ]
    return {
      name: 'listing',
      title: `5. Listing at scale (GET /api/images, ${PAGE} per page, wrk ${CONNECTIONS} connections)`,
      rows,
      notes,
      details: { cases: cases.map((c) => ({ ...c, gateway: c.gateway.map(({ raw: _raw, ...rest }) => rest) })) },
      seconds: (performance.now() - started) / 1000,
    }
  } finally {
    await pool.end()
    await client.end()
    await env.cleanup.run()
  }
}

/** Grows the owner's images from `from` to `to`, each with a ready 200 and 400 px thumbnail row. */
async function seed(client: pg.Client, ownerId: string, from: number, to: number): Promise<void> {
  const chunk = 250_000
  await client.query('set synchronous_commit = off')
  for (let start = from + 1; start <= to; start += chunk) {
    const end = Math.min(to, start + chunk - 1)
    await client.query('begin')
    const maxSeq = Number((await client.query('select coalesce(max(seq), 0) as s from images')).rows[0].s)
    await client.query(
      `insert into images (id, owner_id, title, format, width, height, bytes, original_key, created_at)
       select id, $1, 'Photo ' || g, 'jpeg', 4000, 3000, 3259686, 'originals/' || id || '.jpg', now() - make_interval(secs => $3::int - g)
       from (select gen_random_uuid() as id, g from generate_series($2::int, $3::int) as g) s
       order by g`,
      [ownerId, start, end],
    )
    await client.query(
      `insert into thumbnails (image_id, height, width, status, object_key, bytes, created_at, updated_at)
       select i.id, h.height, round(4000.0 * h.height / 3000), 'ready', 'thumbnails/' || i.id || '/' || h.height || '.jpg', 9000 + h.height * 20, i.created_at, i.created_at
       from images i cross join (values (200), (400)) as h(height)
       where i.owner_id = $1 and i.seq > $2`,
      [ownerId, maxSeq],
    )
    await client.query('commit')
  }
  await client.query('vacuum analyze images')
  await client.query('vacuum analyze thumbnails')
  // write the bulk load's dirty pages out now, not while the next measurement runs
  await client.query('checkpoint')
}

/** The request's statements, one after the other on a pool of CONNECTIONS, CONNECTIONS at a time, for `seconds`. */
async function sqlLimit(pool: pg.Pool, statements: readonly Statement[], seconds: number) {
  const latencies: number[] = []
  const deadline = performance.now() + seconds * 1000
  const lane = async () => {
    while (performance.now() < deadline) {
      const t = performance.now()
      const c = await pool.connect()
      try {
        for (const statement of statements) await c.query(statement.sql, [...statement.parameters])
      } finally {
        c.release()
      }
      latencies.push(performance.now() - t)
    }
  }
  const t0 = performance.now()
  await Promise.all(Array.from({ length: CONNECTIONS }, lane))
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), perSecond: latencies.length / ((performance.now() - t0) / 1000) }
}

async function explain(client: pg.Client, label: string, page: Statement, account?: Statement): Promise<string> {
  const run = async (statement: Statement) => {
    const res = await client.query(`explain (analyze, buffers) ${statement.sql}`, [...statement.parameters])
    return res.rows.map((r: Record<string, string>) => `    ${r['QUERY PLAN']}`).join('\n')
  }
  const parts = [`${label} — the page with its thumbnails:`, await run(page)]
  if (account) parts.push('the account (every authenticated request):', await run(account))
  return ['```text', ...parts, '```'].join('\n')
}

export type { Spread }
