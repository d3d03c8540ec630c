import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { Redis } from 'ioredis'
import { cpuSeconds, databaseCpu } from './procstat.js'

/**
 * Counters read around a counted window (capacity.ts, worker-scaling.ts): CPU seconds of named
 * processes and of the Postgres backends of one database (/proc), Redis `INFO commandstats` of a
 * Redis of the run's own, `pg_stat_database` of the run's database (read from another database, so
 * reading it adds nothing to it), and radosgw's perf counters through its admin socket.
 */

const run = promisify(execFile)

/** The pid of the redis-server listening on `port` (its title is "redis-server 127.0.0.1:<port>"). */
export function redisPid(port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'redis-server') continue
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(`:${port}`)) return Number(entry)
    } catch {
      // gone
    }
  }
  return undefined
}

/** CPU seconds of named processes (a name may stand for several pids) and of `database`'s Postgres backends. */
export function cpuSnapshot(pids: Record<string, number | number[] | undefined>, database: string): { procs: Record<string, number>; postgres: Map<number, number> } {
  const procs: Record<string, number> = {}
  for (const [name, pid] of Object.entries(pids)) {
    const list = Array.isArray(pid) ? pid : pid ? [pid] : []
    procs[name] = list.reduce((sum, p) => sum + cpuSeconds(p), 0)
  }
  const postgres = new Map<number, number>()
  for (const [pid, seconds] of databaseCpu(database)) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') postgres.set(pid, seconds)
    } catch {
      // gone
    }
  }
  return { procs, postgres }
}

export function cpuDelta(a: ReturnType<typeof cpuSnapshot>, b: ReturnType<typeof cpuSnapshot>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [name, s] of Object.entries(b.procs)) out[name] = s - (a.procs[name] ?? s)
  let postgres = 0
  for (const [pid, s] of b.postgres) postgres += s - (a.postgres.get(pid) ?? 0)
  out.postgres = postgres
  return out
}

/** `INFO commandstats` as { command: calls }. */
export async function redisCommandStats(redis: Redis): Promise<Record<string, number>> {
  const text = await redis.info('commandstats')
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim())
    if (m) out[m[1]!] = Number(m[2])
  }
  return out
}

export function diffCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(b)) {
    const d = v - (a[k] ?? 0)
    if (d !== 0) out[k] = d
  }
  return out
}

export const PG_FIELDS = ['xact_commit', 'xact_rollback', 'tup_inserted', 'tup_updated', 'tup_deleted', 'tup_returned', 'tup_fetched', 'blks_read', 'blks_hit'] as const

/** pg_stat_database of `database`, read through a connection to another database on the same server. */
export class PgStats {
  private readonly client: pg.Client
  constructor(serverUrl: string, private readonly database: string) {
    const url = new URL(serverUrl)
    url.pathname = '/postgres'
    this.client = new pg.Client({ connectionString: url.toString() })
  }
  async connect(): Promise<void> {
    await this.client.connect()
  }
  async read(): Promise<Record<string, number>> {
    await this.client.query('select pg_stat_clear_snapshot()')
    const { rows } = await this.client.query(`select ${PG_FIELDS.join(', ')} from pg_stat_database where datname = $1`, [this.database])
    const row = rows[0] as Record<string, string> | undefined
    return Object.fromEntries(PG_FIELDS.map((f) => [f, Number(row?.[f] ?? 0)]))
  }
  close(): Promise<void> {
    return this.client.end()
  }
}

/** radosgw's own request counters (`ceph --admin-daemon <its asok> perf dump`, section "rgw"). */
export class RgwCounters {
  private readonly socket: string | undefined
  constructor(storePids: number[]) {
    for (const pid of storePids) {
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'radosgw') continue
        const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
        const conf = args[args.indexOf('-c') + 1]
        if (!conf) continue
        const runDir = /^\s*run dir\s*=\s*(\S+)/m.exec(readFileSync(conf, 'utf8'))?.[1]
        if (!runDir) continue
        const asok = readdirSync(runDir).find((f) => f.endsWith('.asok') && /rgw/.test(f))
        if (asok) this.socket = join(runDir, asok)
      } catch {
        // not readable
      }
    }
  }
  get available(): boolean {
    return this.socket !== undefined
  }
  describe(): string {
    return this.socket ? `ceph --admin-daemon ${this.socket} perf dump` : 'radosgw admin socket not found'
  }
  async read(): Promise<Record<string, number>> {
    if (!this.socket) return {}
    const { stdout } = await run('ceph', ['--admin-daemon', this.socket, 'perf', 'dump'], { timeout: 30_000, maxBuffer: 16 << 20 })
    const dump = JSON.parse(stdout) as Record<string, Record<string, unknown>>
    const section = dump.rgw ?? Object.entries(dump).find(([k]) => k.startsWith('rgw'))?.[1] ?? {}
    const out: Record<string, number> = {}
    for (const [k, v] of Object.entries(section)) {
      if (typeof v === 'number') out[k] = v
      else if (v && typeof v === 'object' && 'avgcount' in v) out[`${k}.count`] = Number((v as { avgcount: number }).avgcount)
    }
    return out
  }
}
