import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import pretty from 'pino-pretty'
import { exitOnConfigError, loadConfig, Type } from '@imageapi/config'
import { databaseEnvSchema } from '@imageapi/db'
import { startEmbeddedS3, storageEnvSchema, type EmbeddedS3 } from '@imageapi/storage'
import { DEFAULT_ADMIN, initAdmin, migrate } from './commands.js'

/**
 * `pnpm start`: the whole stack on one machine, for development. Postgres and Redis are the
 * machine's; S3 is the embedded server unless S3_ENDPOINT points elsewhere. Services run as
 * separate processes, from source, with their JSON logs pretty-printed here.
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
      EMBEDDED_S3_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 9000 }),
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

let s3: EmbeddedS3 | undefined
let s3Endpoint = config.S3_ENDPOINT
if (!s3Endpoint) {
  const directory = join(ROOT, '.data', 's3')
  await mkdir(directory, { recursive: true })
  s3 = await startEmbeddedS3({ port: config.EMBEDDED_S3_PORT, directory, buckets: [config.S3_BUCKET] })
  s3Endpoint = s3.endPoint
  print(`embedded S3 server (s3rver) at ${s3Endpoint}, data in .data/s3`)
}

await migrate(config.DATABASE_URL, print)
await initAdmin(config.DATABASE_URL, { email: config.ADMIN_EMAIL, password: config.ADMIN_PASSWORD }, print)

const childEnv = {
  ...process.env,
  DATABASE_URL: config.DATABASE_URL,
  S3_ENDPOINT: s3Endpoint,
  S3_BUCKET: config.S3_BUCKET,
  S3_ACCESS_KEY: config.S3_ACCESS_KEY,
  S3_SECRET_KEY: config.S3_SECRET_KEY,
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
  await s3?.close()
  process.exit(code)
}
process.once('SIGINT', () => void stop(0))
process.once('SIGTERM', () => void stop(0))

print('')
print(`imageapi: http://127.0.0.1:${config.PORT}   (API docs: http://127.0.0.1:${config.PORT}/docs)`)
print(`admin:    ${config.ADMIN_EMAIL} / ${config.ADMIN_PASSWORD}   (if it was created by this start; see above)`)
print('press Ctrl-C to stop')
print('')
