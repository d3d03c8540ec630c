import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process'
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Teardown } from './environment.js'
import { freePort } from './infrastructure.js'
import { waitFor } from './wait.js'

const run = promisify(execFile)

export type PoolMode = 'session' | 'transaction' | 'statement'

export interface PgBouncerOptions {
  /** The database to pool, reached directly (Postgres itself); the pooler connects there as this URL's user. */
  databaseUrl: string
  /** Default: transaction, the mode that shares one server connection between clients. */
  poolMode?: PoolMode
  /** Server connections to the database in all (default_pool_size and max_db_connections). Default 5. */
  poolSize?: number
  /** Client connections the pooler accepts (max_client_conn). Default 200. */
  maxClientConnections?: number
  /** How long a query may wait for a server connection before the pooler fails it (query_wait_timeout). Default 30. */
  queryWaitTimeoutSeconds?: number
}

/** One row of an admin console SHOW command, by column name, as text. */
export type AdminRow = Record<string, string>

export interface RunningPgBouncer {
  /** The same database as `databaseUrl`, through the pooler. */
  databaseUrl: string
  port: number
  /** Runs a command on the pooler's admin console (database `pgbouncer`), e.g. `SHOW POOLS`. */
  admin(command: string): Promise<AdminRow[]>
  /** The pooler's own log, for a failure message. */
  log(): Promise<string>
  /** Stops exactly this pgbouncer process and removes its folder. */
  stop(): Promise<void>
}

/**
 * Installs Debian's pgbouncer when it is missing, as the radosgw fixture installs Ceph. Needs root
 * (apt-get); otherwise says what to run.
 */
export function ensurePgBouncerInstalled(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): string {
  const found = pgBouncerPath()
  if (found) return found
  if (process.getuid?.() !== 0) throw new Error('the PgBouncer tests need pgbouncer; install it with: sudo apt-get install -y --no-install-recommends pgbouncer')
  log('installing pgbouncer (Debian package) for the PgBouncer tests')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env })
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'pgbouncer'], { stdio: 'ignore', env })
  const installed = pgBouncerPath()
  if (!installed) throw new Error('installed the pgbouncer package but found no pgbouncer command')
  return installed
}

function pgBouncerPath(): string | undefined {
  // Debian puts it in /usr/sbin, which a non-root PATH may lack
  const found = spawnSync('sh', ['-c', 'command -v pgbouncer || { test -x /usr/sbin/pgbouncer && echo /usr/sbin/pgbouncer; }'], { encoding: 'utf8' })
  const path = found.stdout.trim()
  return found.status === 0 && path ? path : undefined
}

/** pgbouncer refuses to run as root: as root, run it as the postgres user (the Debian package's own). */
function unprivilegedUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
  return { uid, gid }
}

/**
 * A PgBouncer of the test's own in front of one database, on a free port of 127.0.0.1, with its
 * config, log, pid file and unix socket in a temporary folder. Clients connect as the URL's user
 * without a password (the local Postgres trusts 127.0.0.1), and so does the pooler. Stopped in
 * teardown.
 */
export async function startPgBouncer(t: Teardown, options: PgBouncerOptions): Promise<RunningPgBouncer> {
  const binary = ensurePgBouncerInstalled()
  const target = new URL(options.databaseUrl)
  const database = decodeURIComponent(target.pathname.slice(1))
  const user = decodeURIComponent(target.username) || userInfo().username
  if (!database) throw new Error('startPgBouncer: databaseUrl names no database')
  const poolSize = options.poolSize ?? 5
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'imageapi-pgbouncer-'))
  const config = join(dir, 'pgbouncer.ini')
  const logFile = join(dir, 'pgbouncer.log')
  await writeFile(join(dir, 'userlist.txt'), `"${user}" ""\n`)
  await writeFile(
    config,
    [
      '[databases]',
      `${database} = host=${target.hostname} port=${target.port || 5432} dbname=${database} user=${user}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      `logfile = ${logFile}`,
      // the local Postgres trusts 127.0.0.1; trust still needs the user listed in auth_file
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      `admin_users = ${user}`,
      `stats_users = ${user}`,
      `pool_mode = ${options.poolMode ?? 'transaction'}`,
      `default_pool_size = ${poolSize}`,
      // a hard cap: no reserve pool or per-user pool may open more server connections than this
      `max_db_connections = ${poolSize}`,
      'reserve_pool_size = 0',
      'min_pool_size = 0',
      `max_client_conn = ${options.maxClientConnections ?? 200}`,
      // node-postgres sends neither, but JDBC-style clients and psql -c options would be refused without it
      'ignore_startup_parameters = extra_float_digits,options',
      // a client queued longer than this gets an error instead of hanging a test
      `query_wait_timeout = ${options.queryWaitTimeoutSeconds ?? 30}`,
      '',
    ].join('\n'),
  )
  const runAs = unprivilegedUser()
  if (runAs) await chownTree(dir, runAs, ['pgbouncer.ini', 'userlist.txt'])

  const child = spawn(binary, [config], { stdio: ['ignore', 'ignore', 'pipe'], ...(runAs ?? {}) })
  let stderr = ''
  // what it says before its log file is open (a bad config); the tail is enough
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-10_000)))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      // SIGINT: pgbouncer's "safe shutdown" waits for clients; SIGTERM closes them at once
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    }
    await rm(dir, { recursive: true, force: true })
  }
  t.teardown(stop)

  const adminUrl = `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/pgbouncer`
  const admin = async (command: string): Promise<AdminRow[]> => {
    // the admin console speaks only the simple query protocol; psql uses it
    const { stdout } = await run('psql', ['--csv', '--no-psqlrc', '-v', 'ON_ERROR_STOP=1', '-d', adminUrl, '-c', command], { timeout: 10_000 })
    return parseCsv(stdout)
  }
  const log = async () => `${stderr}${await readFile(logFile, 'utf8').catch(() => '')}`
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`pgbouncer exited: ${await log()}`)
        return (await admin('SHOW VERSION')).length > 0
      },
      { what: `pgbouncer to accept on 127.0.0.1:${port}`, timeoutMs: 10_000, intervalMs: 100 },
    )
  } catch (error) {
    const output = await log()
    await stop()
    throw new Error(`${(error as Error).message}\n${output}`)
  }
  const pooled = new URL(options.databaseUrl)
  pooled.hostname = '127.0.0.1'
  pooled.port = String(port)
  return { databaseUrl: pooled.toString(), port, admin, log, stop }
}

async function chownTree(dir: string, owner: { uid: number; gid: number }, files: string[]): Promise<void> {
  await chown(dir, owner.uid, owner.gid)
  for (const file of files) await chown(join(dir, file), owner.uid, owner.gid)
}

/** psql's --csv output: a header line, then rows; fields quoted when they hold a comma or quote. */
function parseCsv(text: string): AdminRow[] {
  const lines = text.split('\n').filter((line) => line.length > 0)
  const [header, ...rows] = lines.map(parseCsvLine)
  if (!header) return []
  return rows.map((fields) => Object.fromEntries(header.map((name, i) => [name, fields[i] ?? ''])))
}

function parseCsvLine(line: string): string[] {
  const fields: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!
    if (quoted) {
      if (char === '"' && line[i + 1] === '"') (field += '"'), i++
      else if (char === '"') quoted = false
      else field += char
    } else if (char === '"') quoted = true
    else if (char === ',') fields.push(field), (field = '')
    else field += char
  }
  fields.push(field)
  return fields
}
