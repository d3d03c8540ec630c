import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { promisify } from 'node:util'
import { readdirSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { REPO_ROOT } from '@imageapi/testkit'
import { startHelper, Cleanup } from './environment.js'

/**
 * The S3 store the benchmarks run against, started once per bench run in processes of its own
 * and stopped at the end:
 * - radosgw (the default): packages/radosgw's throw-away single-node Ceph cluster (monitor, OSD
 *   with its objects in RAM, S3 gateway), run through its `src/main.ts` as scripts/test.mjs does;
 * - s3rver (BENCH_STORE=s3rver): the old stand-in, kept for comparison (no multipart: 501).
 * Credentials come from the store that was started.
 */
export type StoreKind = 'radosgw' | 's3rver'

export interface BenchStore {
  kind: StoreKind
  endPoint: string
  accessKey: string
  secretKey: string
  region: string
  /** The processes that are the store (radosgw: ceph-mon, ceph-osd, radosgw; s3rver: its node process), for CPU accounting. */
  pids(): number[]
  /** e.g. "radosgw (ceph-mon 123, ceph-osd 124, radosgw 125)" */
  describe(): string
  /**
   * Frees the space of deleted objects now. radosgw deletes the data of multipart (and > 4 MiB)
   * objects lazily, through its garbage collector (an hour by default; the fixture: after 60 s,
   * every 60 s): with the fixture's 4 GiB in-RAM store, the 3 GB one upload-throughput round
   * writes and deletes would fill the OSD and block every write. s3rver: nothing to do.
   */
  collectGarbage(): Promise<void>
  stop(): Promise<void>
}

export function storeKind(): StoreKind {
  const value = (process.env.BENCH_STORE ?? 'radosgw').trim().toLowerCase()
  if (value === 'radosgw' || value === 'ceph' || value === '') return 'radosgw'
  if (value === 's3rver') return 's3rver'
  throw new Error(`BENCH_STORE="${process.env.BENCH_STORE}": choose radosgw (the default) or s3rver`)
}

let current: Promise<BenchStore> | undefined

/** The run's store: started on first use, the same one for every benchmark of the run. */
export function benchStore(): Promise<BenchStore> {
  current ??= startStore(storeKind())
  return current
}

/** Stops the run's store if one was started. */
export async function stopBenchStore(): Promise<void> {
  if (!current) return
  const store = await current.catch(() => undefined)
  current = undefined
  await store?.stop()
}

async function startStore(kind: StoreKind): Promise<BenchStore> {
  return kind === 'radosgw' ? startRadosgwStore() : startS3rverStore()
}

async function startS3rverStore(): Promise<BenchStore> {
  const cleanup = new Cleanup()
  const helper = await startHelper(cleanup, 'src/lib/s3-main.ts', [])
  const line = helper.line as { endPoint: string; accessKey: string; secretKey: string }
  return {
    kind: 's3rver',
    endPoint: line.endPoint,
    accessKey: line.accessKey,
    secretKey: line.secretKey,
    region: 'us-east-1',
    pids: () => [helper.pid],
    describe: () => `s3rver 3.7.1 (node process ${helper.pid}), objects in a temporary directory`,
    collectGarbage: async () => {},
    stop: () => cleanup.run(),
  }
}

const run = promisify(execFile)
const CEPH_DAEMONS = ['ceph-mon', 'ceph-osd', 'radosgw']

async function startRadosgwStore(): Promise<BenchStore> {
  // its standard input is its lifeline: the cluster stops when it closes, even if this process is killed
  const child: ChildProcess = spawn(process.execPath, ['--conditions=@imageapi/source', '--import', 'tsx', 'packages/radosgw/src/main.ts'], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const credentials = await new Promise<{ endPoint: string; accessKey: string; secretKey: string; region: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM')
      reject(new Error('radosgw did not start in 120 s'))
    }, 120_000)
    createInterface({ input: child.stdout! }).once('line', (text) => {
      clearTimeout(timer)
      try {
        resolve(JSON.parse(text))
      } catch (error) {
        reject(new Error(`radosgw printed "${text.slice(0, 200)}" instead of its credentials: ${String(error)}`))
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`radosgw exited (${code}) before it was ready`))
    })
  })
  const port = new URL(credentials.endPoint).port
  let daemons: Array<{ name: string; pid: number }> = []
  const findDaemons = () => {
    if (daemons.length === CEPH_DAEMONS.length && daemons.every((d) => alive(d.pid))) return daemons
    daemons = cephDaemonsServing(port)
    return daemons
  }
  findDaemons()
  if (daemons.length !== CEPH_DAEMONS.length) process.stderr.write(`  warning: found ${daemons.length} of radosgw's ${CEPH_DAEMONS.length} daemons in /proc; its CPU will be undercounted\n`)
  return {
    kind: 'radosgw',
    ...credentials,
    pids: () => findDaemons().map((d) => d.pid),
    async collectGarbage() {
      const conf = findDaemons().map((d) => confOf(d.pid)).find(Boolean)
      if (!conf) return
      await run('radosgw-admin', ['-c', conf, 'gc', 'process', '--include-all'], { timeout: 180_000 })
    },
    describe: () => `Ceph radosgw (${findDaemons().map((d) => `${d.name} ${d.pid}`).join(', ')}), objects in RAM (memstore), ${credentials.endPoint}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.stdin!.end()
      const timer = setTimeout(() => child.kill('SIGTERM'), 30_000)
      const hard = setTimeout(() => child.kill('SIGKILL'), 40_000)
      await exited
      clearTimeout(timer)
      clearTimeout(hard)
    },
  }
}

/**
 * The Ceph daemons of the cluster whose S3 gateway listens on `port`: each runs with `-c <its
 * cluster's ceph.conf>`, and that file names the port on its `rgw frontends` line.
 */
function cephDaemonsServing(port: string): Array<{ name: string; pid: number }> {
  const found: Array<{ name: string; pid: number }> = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const name = readFileSync(`/proc/${entry}/comm`, 'utf8').trim()
      if (!CEPH_DAEMONS.includes(name)) continue
      const conf = confOf(Number(entry))
      if (!conf) continue
      if (new RegExp(`endpoint=127\\.0\\.0\\.1:${port}\\b`).test(readFileSync(conf, 'utf8'))) found.push({ name, pid: Number(entry) })
    } catch {
      // gone, or not readable: not ours
    }
  }
  return found.sort((a, b) => CEPH_DAEMONS.indexOf(a.name) - CEPH_DAEMONS.indexOf(b.name))
}

/** The ceph.conf a Ceph daemon was started with (`-c <path>`). */
function confOf(pid: number): string | undefined {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    const at = args.indexOf('-c')
    return at >= 0 ? args[at + 1] : undefined
  } catch {
    return undefined
  }
}

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}
