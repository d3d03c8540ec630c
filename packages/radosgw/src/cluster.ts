import { execFile } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { cephConf } from './ceph-conf.js'
import { ensureCephInstalled } from './install.js'

const run = promisify(execFile)

export interface RadosgwOptions {
  /**
   * Where the cluster lives. A directory that already holds one (from an earlier start) is started
   * again with its objects; without it a temporary directory is used and removed by stop().
   */
  directory?: string
  /** Keep objects on disk (a sparse file) so a restart finds them; default: in RAM, gone at stop. */
  persistent?: boolean
  /** The most the store holds: RAM for the in-memory store (default 4 GiB), disk otherwise (20 GiB). */
  capacityBytes?: number
  /** The S3 port on 127.0.0.1; default: a free one (a resumed cluster keeps its own). */
  port?: number
  /** Install the Debian packages when they are missing (needs root). Default true. */
  install?: boolean
}

export interface Radosgw {
  endPoint: string
  accessKey: string
  secretKey: string
  region: 'us-east-1'
  directory: string
  /** The daemons' process ids (monitor, OSD, gateway). */
  pids(): number[]
  /** Kills exactly the daemons this cluster started and, for a temporary one, removes its directory. */
  stop(): Promise<void>
  /** stop() for a process that is exiting and can no longer wait. */
  stopSync(): void
}

/** What a cluster directory remembers so it can be started again the same way. */
interface ClusterState {
  fsid: string
  monPort: number
  s3Port: number
  accessKey: string
  secretKey: string
}

const DAEMONS = ['mon.a', 'osd.0', 'client.rgw'] as const
const STATE_FILE = 'cluster.json'
const START_TIMEOUT_MS = 60_000

/**
 * Starts a single-node Ceph cluster with an S3 gateway on loopback: one monitor, one OSD, one
 * radosgw, started directly (no systemd), each daemonized with a pid file in the cluster's folder.
 */
export async function startRadosgw(options: RadosgwOptions = {}): Promise<Radosgw> {
  if (options.install !== false) ensureCephInstalled()
  const temporary = options.directory === undefined
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'imageapi-radosgw-')))
  const confPath = join(directory, 'ceph.conf')
  const cluster = makeHandle(directory, temporary)
  try {
    const existing = await readState(directory)
    // a stack killed without stopping leaves its daemons running, holding the ports and the store
    killDaemons(directory)
    const state = existing ?? (await createCluster(directory, options))
    if (existing) await startDaemons(directory, confPath, state)
    return { ...cluster, endPoint: `http://127.0.0.1:${state.s3Port}`, accessKey: state.accessKey, secretKey: state.secretKey, region: 'us-east-1' }
  } catch (error) {
    const logs = await recentLogs(directory)
    await cluster.stop()
    throw new Error(`radosgw did not start: ${(error as Error).message}${logs}`, { cause: error })
  }
}

async function createCluster(directory: string, options: RadosgwOptions): Promise<ClusterState> {
  const state: ClusterState = {
    fsid: randomUUID(),
    monPort: await freePort(),
    s3Port: options.port ?? (await freePort()),
    accessKey: `imageapi-${randomBytes(6).toString('hex')}`,
    secretKey: randomBytes(24).toString('base64url'),
  }
  const objectStore = options.persistent ? 'bluestore' : 'memstore'
  const capacityBytes = options.capacityBytes ?? (options.persistent ? 20 : 4) * 1024 ** 3
  for (const sub of ['run', 'log', 'mon/ceph-a', 'osd/ceph-0', 'rgw']) await mkdir(join(directory, sub), { recursive: true })
  const confPath = join(directory, 'ceph.conf')
  await writeFile(confPath, cephConf({ directory, fsid: state.fsid, monPort: state.monPort, s3Port: state.s3Port, objectStore, capacityBytes }))
  const c = ['-c', confPath]

  const monmap = join(directory, 'monmap')
  await run('monmaptool', ['--create', '--fsid', state.fsid, '--addv', 'a', `[v2:127.0.0.1:${state.monPort}]`, monmap])
  await run('ceph-mon', [...c, '-i', 'a', '--mkfs', '--monmap', monmap])
  await run('ceph-mon', [...c, '-i', 'a'])
  const osdUuid = randomUUID()
  await run('ceph', [...c, 'osd', 'new', osdUuid], { timeout: START_TIMEOUT_MS })
  await run('ceph-osd', [...c, '-i', '0', '--mkfs', '--osd-uuid', osdUuid])
  await run('ceph-osd', [...c, '-i', '0'])
  await waitForOsd(c)
  await run('radosgw-admin', [...c, 'user', 'create', '--uid', 'imageapi', '--display-name', 'imageapi', '--access-key', state.accessKey, '--secret-key', state.secretKey], { timeout: START_TIMEOUT_MS })
  await run('radosgw', [...c, '-n', 'client.rgw'])
  await waitForPort(state.s3Port)
  // written last: a directory without it is a cluster that never finished starting
  await writeFile(join(directory, STATE_FILE), JSON.stringify(state, null, 2))
  return state
}

async function startDaemons(directory: string, confPath: string, state: ClusterState): Promise<void> {
  const c = ['-c', confPath]
  await run('ceph-mon', [...c, '-i', 'a'])
  await run('ceph-osd', [...c, '-i', '0'])
  await waitForOsd(c)
  await run('radosgw', [...c, '-n', 'client.rgw'])
  await waitForPort(state.s3Port)
}

async function readState(directory: string): Promise<ClusterState | undefined> {
  try {
    return JSON.parse(await readFile(join(directory, STATE_FILE), 'utf8')) as ClusterState
  } catch {
    // no state: a new directory, or a cluster that never finished starting, made anew
    if (existsSync(join(directory, 'ceph.conf'))) {
      killDaemons(directory)
      for (const sub of ['run', 'log', 'mon', 'osd', 'rgw', 'ceph.conf', 'monmap']) rmSync(join(directory, sub), { recursive: true, force: true })
    }
    return undefined
  }
}

function makeHandle(directory: string, temporary: boolean): Pick<Radosgw, 'directory' | 'pids' | 'stop' | 'stopSync'> {
  const stopSync = () => {
    killDaemons(directory)
    if (temporary) rmSync(directory, { recursive: true, force: true })
  }
  return {
    directory,
    pids: () => DAEMONS.map((name) => daemonPid(directory, name)).filter((pid): pid is number => pid !== undefined),
    stopSync,
    async stop() {
      const pids = DAEMONS.map((name) => daemonPid(directory, name)).filter((pid): pid is number => pid !== undefined)
      killDaemons(directory)
      const deadline = Date.now() + 10_000
      while (pids.some(isRunning) && Date.now() < deadline) await sleep(50)
      if (temporary) await rm(directory, { recursive: true, force: true })
    },
  }
}

/** The pid in a daemon's pid file, if that process is still one of this cluster's daemons. */
function daemonPid(directory: string, name: string): number | undefined {
  let pid: number
  try {
    pid = Number(readFileSync(join(directory, 'run', `${name}.pid`), 'utf8').trim())
  } catch {
    return undefined
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined
  // a pid file outlives its process, and the pid may since belong to something else
  try {
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return commandLine.includes(join(directory, 'ceph.conf')) ? pid : undefined
  } catch {
    return undefined
  }
}

/** SIGKILL: the cluster is throw-away or its store is crash-safe (bluestore), and a polite stop takes seconds. */
function killDaemons(directory: string): void {
  for (const name of DAEMONS) {
    const pid = daemonPid(directory, name)
    if (pid === undefined) continue
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
}

function isRunning(pid: number): boolean {
  try {
    // a zombie (killed, not yet reaped by its parent) is gone for our purposes
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

async function waitForOsd(c: string[]): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    const { stdout } = await run('ceph', [...c, 'osd', 'stat'], { timeout: START_TIMEOUT_MS })
    if (/\b1 up\b/.test(stdout)) return
    if (Date.now() > deadline) throw new Error(`the OSD did not come up: ${stdout.trim()}`)
    await sleep(200)
  }
}

async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  while (!(await accepts(port))) {
    if (Date.now() > deadline) throw new Error(`radosgw did not listen on 127.0.0.1:${port}`)
    await sleep(100)
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end()
      resolve(true)
    })
    socket.on('error', () => resolve(false))
  })
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function recentLogs(directory: string): Promise<string> {
  const parts: string[] = []
  for (const name of ['mon.a', 'osd.0', 'client.rgw']) {
    try {
      const lines = (await readFile(join(directory, 'log', `${name}.log`), 'utf8')).trimEnd().split('\n').slice(-8)
      parts.push(`\n--- ${name}.log (last lines)\n${lines.join('\n')}`)
    } catch {
      // that daemon never started
    }
  }
  return parts.join('')
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
