import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Teardown } from './environment.js'
import { freePort } from './infrastructure.js'
import { waitFor } from './wait.js'

const run = promisify(execFile)

export interface RedisClusterNode {
  host: string
  port: number
}

export interface RedisCluster {
  /** Every node started, masters and replicas. */
  nodes: RedisClusterNode[]
  /** The nodes as REDIS_CLUSTER_NODES wants them: `127.0.0.1:P1,127.0.0.1:P2,…`. */
  nodesVariable: string
  /** The port of the master now serving a key's hash slot (a replica promoted after a kill answers then). */
  masterOf(key: string): Promise<number>
  /** kill -9 of the node on this port, as a machine that died; a replica of it takes over after the node timeout. */
  kill(port: number): Promise<void>
  /** Resolves once every live node says `cluster_state:ok` (after a kill: once the failover is done). */
  waitUntilOk(timeoutMs?: number): Promise<void>
}

// A node is declared failed after this long without an answer; a replica is promoted soon after.
// Redis' default (15 s) would make a test wait that long for every failover.
const NODE_TIMEOUT_MS = 2_000

async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 })
  return stdout
}

/**
 * A Redis Cluster of the test's own on loopback: `masters` masters (3 at least, Redis' minimum) and
 * `replicasPerMaster` replicas of each, made with Debian's redis-server and `redis-cli --cluster
 * create`. Nothing on disk survives it. Teardown kills exactly the processes it started.
 */
export async function startRedisCluster(t: Teardown, options: { masters: number; replicasPerMaster?: 0 | 1 }): Promise<RedisCluster> {
  const replicas = options.replicasPerMaster ?? 0
  if (options.masters < 3) throw new Error('a Redis Cluster needs at least 3 masters')
  const dir = await mkdtemp(join(tmpdir(), 'imageapi-redis-cluster-'))
  const children = new Map<number, ChildProcess>()
  const exited = new Map<number, Promise<unknown>>()
  const kill = async (port: number) => {
    const child = children.get(port)
    if (!child) throw new Error(`no node of this cluster on port ${port}`)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited.get(port)
  }
  t.teardown(async () => {
    await Promise.all([...children.keys()].map(kill))
    await rm(dir, { recursive: true, force: true })
  })

  const nodes: RedisClusterNode[] = []
  for (let i = 0; i < options.masters * (1 + replicas); i++) {
    const port = await freePort()
    const child = spawn(
      'redis-server',
      [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', `nodes-${port}.conf`,
        '--cluster-node-timeout', String(NODE_TIMEOUT_MS),
        '--dir', dir,
        '--save', '',
        '--appendonly', 'no',
      ],
      { stdio: 'ignore' },
    )
    children.set(port, child)
    exited.set(port, new Promise((resolve) => child.once('exit', resolve)))
    nodes.push({ host: '127.0.0.1', port })
  }
  const live = () => nodes.filter((node) => {
    const child = children.get(node.port)!
    return child.exitCode === null && child.signalCode === null
  })
  await waitFor(
    async () => (await Promise.all(nodes.map((node) => redisCli(node.port, 'ping').then((answer) => answer.trim() === 'PONG', () => false)))).every(Boolean),
    { what: 'every cluster node to answer PING', timeoutMs: 15_000, intervalMs: 100 },
  )
  await run('redis-cli', ['--cluster', 'create', ...nodes.map((node) => `${node.host}:${node.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 60_000 })

  const waitUntilOk = async (timeoutMs = 30_000) => {
    await waitFor(
      async () => {
        const infos = await Promise.all(live().map((node) => redisCli(node.port, 'cluster', 'info').catch(() => '')))
        return infos.every((info) => info.includes('cluster_state:ok'))
      },
      { what: 'cluster_state:ok on every node', timeoutMs, intervalMs: 200 },
    )
  }
  await waitUntilOk()

  const masterOf = async (key: string) => {
    const slot = Number((await redisCli(live()[0]!.port, 'cluster', 'keyslot', key)).trim())
    // "<id> <ip:port@cport> <flags> <master> … <connected> <slot ranges…>", one line per node
    const table = await redisCli(live()[0]!.port, 'cluster', 'nodes')
    for (const line of table.trim().split('\n')) {
      const fields = line.split(' ')
      if (!fields[2]!.includes('master') || fields[2]!.includes('fail')) continue
      for (const range of fields.slice(8)) {
        const [start, end = start] = range.split('-').map(Number)
        if (slot >= start! && slot <= end!) return Number(fields[1]!.split('@')[0]!.split(':')[1])
      }
    }
    throw new Error(`no live master serves slot ${slot} (key ${key})`)
  }

  return {
    nodes,
    nodesVariable: nodes.map((node) => `${node.host}:${node.port}`).join(','),
    masterOf,
    kill,
    waitUntilOk,
  }
}
