import type { ConnectionOptions } from 'bullmq'
import { Cluster, Redis } from 'ioredis'
import { Type } from '@imageapi/config'

export interface RedisNode {
  host: string
  port: number
}

/** Where Redis is: one server (a `redis://` URL) or a Redis Cluster, found from some of its nodes. */
export type RedisTarget = { url: string } | { clusterNodes: readonly RedisNode[] }

const PORT = '(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})'
const HOST = '(?:\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)'
const NODE = `${HOST}:${PORT}`
/** `host:port,host:port,…` (an IPv6 host in brackets); spaces around the commas are allowed. */
export const REDIS_CLUSTER_NODES_PATTERN = `^ *${NODE} *(?:, *${NODE} *)*$`

export const redisEnvSchema = {
  REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379', pattern: '^rediss?://' }),
  /** Nodes of a Redis Cluster (any of them; the client finds the rest). When set, it wins over REDIS_URL. */
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ pattern: REDIS_CLUSTER_NODES_PATTERN })),
}

/** Reads `host:port,host:port` (already checked against REDIS_CLUSTER_NODES_PATTERN by the config). */
export function parseClusterNodes(value: string): RedisNode[] {
  if (!new RegExp(REDIS_CLUSTER_NODES_PATTERN).test(value)) {
    throw new Error(`REDIS_CLUSTER_NODES must be host:port,host:port,… (got ${JSON.stringify(value)})`)
  }
  return value.split(',').map((part) => {
    const node = part.trim()
    const colon = node.lastIndexOf(':')
    return { host: node.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(node.slice(colon + 1)) }
  })
}

/** The cluster when REDIS_CLUSTER_NODES is set, the one server of REDIS_URL otherwise. */
export function redisTargetFromConfig(config: { REDIS_URL: string; REDIS_CLUSTER_NODES?: string | undefined }): RedisTarget {
  return config.REDIS_CLUSTER_NODES ? { clusterNodes: parseClusterNodes(config.REDIS_CLUSTER_NODES) } : { url: config.REDIS_URL }
}

/** A bare string is a standalone server's URL, as every caller passed before clusters existed. */
export function toRedisTarget(target: RedisTarget | string): RedisTarget {
  return typeof target === 'string' ? { url: target } : target
}

export function isCluster(target: RedisTarget): target is { clusterNodes: readonly RedisNode[] } {
  return 'clusterNodes' in target
}

/**
 * BullMQ's key prefix for a queue. A cluster runs BullMQ's multi-key Lua scripts only when every
 * key of the queue is in one hash slot, so there the prefix is a hash tag (`{imageapi}` →
 * `{imageapi}:thumbnails:wait`, …), BullMQ's documented way. A standalone server keeps the bare
 * prefix, so its keys (and every process and test addressing them by QUEUE_PREFIX) stay as they were.
 */
export function bullmqPrefix(prefix: string, target: RedisTarget | string): string {
  return isCluster(toRedisTarget(target)) ? `{${prefix}}` : prefix
}

export interface ConnectionRole {
  /**
   * A connection that blocks (a worker's, queue events'): BullMQ requires unlimited retries and an
   * offline queue there. Others fail fast when Redis is away, so a request is not held up by it.
   */
  worker?: boolean
}

function clusterClient(nodes: readonly RedisNode[], role: ConnectionRole): Cluster {
  return new Cluster(
    nodes.map((node) => ({ ...node })),
    {
      enableOfflineQueue: role.worker ?? false,
      redisOptions: { maxRetriesPerRequest: role.worker ? null : 1 },
      // a failover takes the cluster's node timeout; a command for the lost master's slots waits a
      // little for the new one (then fails, and the rows say what is owed)
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
    },
  )
}

/** A Redis client for the services' own keys (rate limits): a `Cluster` or a standalone `Redis`. */
export function createRedis(target: RedisTarget | string, role: ConnectionRole = {}): Redis | Cluster {
  const where = toRedisTarget(target)
  if (isCluster(where)) return clusterClient(where.clusterNodes, role)
  return new Redis(where.url, { maxRetriesPerRequest: role.worker ? null : 1, lazyConnect: false })
}

/**
 * BullMQ's `connection` option. A standalone server is given as options and BullMQ owns the
 * client; a cluster must be given as a client (BullMQ cannot build one from options), which the
 * caller then closes: `createThumbnailQueue` and friends do.
 */
export function redisConnection(target: RedisTarget | string, role: ConnectionRole = {}): ConnectionOptions {
  const where = toRedisTarget(target)
  if (isCluster(where)) return clusterClient(where.clusterNodes, role) as unknown as ConnectionOptions
  return { url: where.url, maxRetriesPerRequest: role.worker ? null : 1, enableOfflineQueue: role.worker ?? false } as ConnectionOptions
}

/** Makes `owner.close()` also close a connection BullMQ was lent (a cluster client), once. */
export function closingWith<T extends { close(...args: never[]): Promise<void> }>(owner: T, connection: ConnectionOptions): T {
  if (!(connection instanceof Cluster)) return owner
  const close = owner.close.bind(owner) as (...args: unknown[]) => Promise<void>
  owner.close = (async (...args: unknown[]) => {
    try {
      await close(...args)
    } finally {
      connection.disconnect()
    }
  }) as T['close']
  return owner
}
