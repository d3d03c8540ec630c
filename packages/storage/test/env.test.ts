import { ConfigError, loadConfig, Type } from '@imageapi/config'
import t from 'tap'
import { createMinioStorage, minioConfigFromEnv, storageEnvSchema } from '../src/index.js'
import { createTestBucket } from './support/test-bucket.js'

const schema = Type.Object({ ...storageEnvSchema })

t.test('defaults: bucket imageapi, us-east-1, no endpoint and no keys', async (t) => {
  t.same(loadConfig(schema, {}), {
    S3_BUCKET: 'imageapi',
    S3_REGION: 'us-east-1',
  })
})

t.test('reads every variable', async (t) => {
  const env = {
    S3_ENDPOINT: 'https://s3.example.com',
    S3_ACCESS_KEY: 'key',
    S3_SECRET_KEY: 'secret',
    S3_BUCKET: 'images.prod',
    S3_REGION: 'eu-west-1',
  }
  t.same(loadConfig(schema, env), env)
})

t.test('a bad endpoint or bucket is a ConfigError naming that variable', async (t) => {
  for (const [variable, value] of [
    ['S3_ENDPOINT', 'localhost:9000'],
    ['S3_ENDPOINT', 'http://localhost:9000/bucket'],
    ['S3_BUCKET', 'Images'],
    ['S3_BUCKET', 'ab'],
  ] as const) {
    const error = t.throws(() => loadConfig(schema, { [variable]: value })) as unknown as ConfigError
    t.ok(error instanceof ConfigError)
    t.same(
      error.problems.map((p) => p.variable),
      [variable],
      `${variable}=${value}`,
    )
  }
})

t.test('minioConfigFromEnv takes the endpoint from the environment or the caller', async (t) => {
  const env = loadConfig(schema, { S3_ENDPOINT: 'http://127.0.0.1:9000', S3_ACCESS_KEY: 'key', S3_SECRET_KEY: 'secret' })
  t.same(minioConfigFromEnv(env), {
    endPoint: 'http://127.0.0.1:9000',
    accessKey: 'key',
    secretKey: 'secret',
    bucket: 'imageapi',
    region: 'us-east-1',
  })
  t.equal(minioConfigFromEnv(env, 'http://127.0.0.1:4568').endPoint, 'http://127.0.0.1:4568')
  t.throws(() => minioConfigFromEnv(loadConfig(schema, {})), /S3_ENDPOINT/)
})

t.test('an endpoint without its keys stops with a message naming the missing variable', async (t) => {
  t.throws(() => minioConfigFromEnv(loadConfig(schema, { S3_ENDPOINT: 'http://127.0.0.1:9000' })), /S3_ACCESS_KEY must be set/)
  t.throws(() => minioConfigFromEnv(loadConfig(schema, { S3_ENDPOINT: 'http://127.0.0.1:9000', S3_ACCESS_KEY: 'key' })), /S3_SECRET_KEY must be set/)
})

t.test('a config loaded from the variables reaches the store: a put and a get through it', async (t) => {
  const { store, bucket } = await createTestBucket(t, 'env')
  const env = loadConfig(schema, {
    S3_ENDPOINT: store.endPoint,
    S3_ACCESS_KEY: store.accessKey,
    S3_SECRET_KEY: store.secretKey,
    S3_BUCKET: bucket,
    S3_REGION: store.region,
  })
  const storage = createMinioStorage({ ...minioConfigFromEnv(env), keepAlive: false })
  t.teardown(() => storage.close())
  await t.resolves(storage.ping(), 'the bucket is found with these keys')
  await storage.putObject('from-env', Buffer.from('configured'), 10, 'text/plain')
  t.equal((await storage.getObjectBuffer('from-env')).toString(), 'configured')
})
