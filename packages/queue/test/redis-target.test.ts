import t from 'tap'
import { QueueKeys } from 'bullmq'
import { ConfigError, loadConfig, Type } from '@imageapi/config'
import { bullmqPrefix, queueEnvSchema, redisTargetFromConfig, THUMBNAIL_QUEUE } from '../src/index.js'

const schema = Type.Object(queueEnvSchema)

/** Redis Cluster's hash slot of a key: CRC16 (XMODEM) of its hash tag, or of the whole key, mod 16384. */
function hashSlot(key: string): number {
  const open = key.indexOf('{')
  const close = open >= 0 ? key.indexOf('}', open + 1) : -1
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key
  let crc = 0
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc % 16384
}

t.test('hashSlot agrees with Redis Cluster (CLUSTER KEYSLOT values from the Redis docs)', async (t) => {
  t.equal(hashSlot('123456789'), 0x31c3 % 16384)
  t.equal(hashSlot('foo'), 12182)
  t.equal(hashSlot('{user1000}.following'), hashSlot('{user1000}.followers'))
})

t.test('on a cluster every key BullMQ builds for the thumbnail queue is in one hash slot', async (t) => {
  const target = redisTargetFromConfig(loadConfig(schema, { REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001' }))
  const prefix = bullmqPrefix('imageapi', target)
  t.equal(prefix, '{imageapi}')
  // the key names BullMQ's queues build (QueueKeys is what Queue and Worker use), and a job's own keys
  const queueKeys = new QueueKeys(prefix)
  const keys = [...Object.values(queueKeys.getKeys(THUMBNAIL_QUEUE)), ...['image-1', 'image-1:lock', 'image-1:logs'].map((type) => queueKeys.toKey(THUMBNAIL_QUEUE, type))]
  t.ok(keys.length > 10, `${keys.length} keys, e.g. ${keys[0]}`)
  t.ok(keys.every((key) => key.startsWith('{imageapi}:thumbnails')), 'every key carries the hash tag')
  t.same(new Set(keys.map(hashSlot)), new Set([hashSlot('imageapi')]), 'one slot: that of the tag')
})

t.test('a standalone server keeps the bare prefix, so its keys are what they were', async (t) => {
  const target = redisTargetFromConfig(loadConfig(schema, { REDIS_URL: 'redis://127.0.0.1:6379' }))
  t.same(target, { url: 'redis://127.0.0.1:6379' })
  t.equal(bullmqPrefix('imageapi', target), 'imageapi')
})

t.test('REDIS_CLUSTER_NODES wins over REDIS_URL and is read as host:port pairs', async (t) => {
  const config = loadConfig(schema, { REDIS_URL: 'redis://10.0.0.1:6379', REDIS_CLUSTER_NODES: 'redis-a:6379, 10.0.0.2:7001,[::1]:7002' })
  t.same(redisTargetFromConfig(config), {
    clusterNodes: [
      { host: 'redis-a', port: 6379 },
      { host: '10.0.0.2', port: 7001 },
      { host: '::1', port: 7002 },
    ],
  })
})

t.test('a malformed REDIS_CLUSTER_NODES stops the config naming the variable', async (t) => {
  for (const value of ['127.0.0.1', '127.0.0.1:', '127.0.0.1:7000;127.0.0.1:7001', 'redis://127.0.0.1:7000', '127.0.0.1:70000', '127.0.0.1:7000,', 'host:0']) {
    const error = t.throws(() => loadConfig(schema, { REDIS_CLUSTER_NODES: value }), ConfigError, JSON.stringify(value)) as ConfigError
    t.same(error.problems.map((problem) => problem.variable), ['REDIS_CLUSTER_NODES'], `${JSON.stringify(value)} is blamed on REDIS_CLUSTER_NODES`)
  }
})
