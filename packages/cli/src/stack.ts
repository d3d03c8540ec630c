import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import pretty from 'pino-pretty'
import { exitOnConfigError, loadConfig, Type } from '@imageapi/config'
import { databaseEnvSchema } from '@imageapi/db'
import { storageEnvSchema } from '@imageapi/storage'
import { DEFAULT_ADMIN, initAdmin, migrate } from './commands.js'
import { startStackStore, type StackStore } from './stack-store.js'

/**
 * `pnpm start`: the whole stack on one machine, for development. Postgres and Redis are the
 * machine's; S3 is a persistent single-node Ceph radosgw in .data/radosgw unless S3_ENDPOINT points
 * elsewhere (then the bucket is created when missing). Services run as separate processes, from
 * source, with their JSON logs pretty-printed here.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

let config
try {
  config = loadConfig(
    Type.Object({
      ...databaseEnvSchema,
      ...storageEnvSchema,
      PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8000 }),
      LINKS_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8001 }),
      // the embedded store's port when it is first created (default: a free one); it keeps it after
      EMBEDDED_S3_PORT: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
      ADMIN_EMAIL: Type.String({ default: DEFAULT_ADMIN.email }),
      ADMIN_PASSWORD: Type.String({ default: DEFAULT_ADMIN.password }),
    }),
  )
} catch (error) {
  exitOnConfigError(error)
}

const print = (line: string) => process.stdout.write(`${line}\n`)
// the services log JSON lines, as in production; only this terminal view is prettified
const prettyOut = pretty({ colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' })

const storeDirectory = join(ROOT, '.data', 'radosgw')
let store: StackStore
try {
  store = await startStackStore(config, { directory: storeDirectory, ...(config.EMBEDDED_S3_PORT !== undefined ? { port: config.EMBEDDED_S3_PORT } : {}), print })
} catch (error) {
  process.stderr.write(`npm start: the S3 store is not usable: ${(error as Error).message}\n`)
  process.exit(1)
}
// a stack that dies without stop() must not leave the store's daemons running
process.once('exit', () => store.stopSync())
const storeWhere = store.directory
  ? `Ceph radosgw at ${store.endPoint}, bucket ${store.bucket}, data and keys in ${relative(ROOT, store.directory)}`
  : `${store.endPoint}, bucket ${store.bucket} (S3_ENDPOINT)`
print(`S3 store: ${storeWhere}`)

await migrate(config.DATABASE_URL, print)
await initAdmin(config.DATABASE_URL, { email: config.ADMIN_EMAIL, password: config.ADMIN_PASSWORD }, print)

const childEnv = {
  ...process.env,
  DATABASE_URL: config.DATABASE_URL,
  S3_ENDPOINT: store.endPoint,
  S3_BUCKET: store.bucket,
  S3_ACCESS_KEY: store.accessKey,
  S3_SECRET_KEY: store.secretKey,
  S3_REGION: store.region,
}
const children: ChildProcess[] = []
function startService(entry: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--conditions=@imageapi/source', '--import', 'tsx', entry], {
    cwd: ROOT,
    env: { ...childEnv, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  child.stdout!.pipe(prettyOut, { end: false })
  child.once('exit', (code, signal) => {
    if (!stopping) {
      print(`${entry} exited (${code ?? signal}); stopping the stack`)
      void stop(1)
    }
  })
  children.push(child)
  return child
}

const linksUrl = `http://127.0.0.1:${config.LINKS_PORT}`
startService('services/links/src/server.ts', { PORT: String(config.LINKS_PORT) })
startService('services/gateway/src/server.ts', { PORT: String(config.PORT), LINKS_URL: linksUrl })
startService('services/thumbnail-worker/src/main.ts', {})

let stopping = false
async function stop(code: number): Promise<void> {
  if (stopping) return
  stopping = true
  await Promise.all(
    children.map((child) =>
      child.exitCode !== null || child.signalCode !== null ? undefined : new Promise((resolveExit) => (child.once('exit', resolveExit), child.kill('SIGTERM')))),
  )
  await store.stop()
  process.exit(code)
}
process.once('SIGINT', () => void stop(0))
process.once('SIGTERM', () => void stop(0))

print('')
print(`imageapi: http://127.0.0.1:${config.PORT}   (API docs: http://127.0.0.1:${config.PORT}/docs)`)
print(`admin:    ${config.ADMIN_EMAIL} / ${config.ADMIN_PASSWORD}   (if it was created by this start; see above)`)
print(`storage:  ${storeWhere}`)
print('press Ctrl-C to stop')
print('')
