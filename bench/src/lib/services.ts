import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { connect, createServer, type AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'
import { createThumbnailQueue } from '@imageapi/queue'
import { REPO_ROOT, waitFor, type RunningService, type ServiceName, type Teardown } from '@imageapi/testkit'

/**
 * Starts a service as its own process, as production runs it: the built `dist/` entry point with
 * plain node (`pnpm bench` builds first). BENCH_FROM_SOURCE=1 runs it from source with tsx instead,
 * exactly as the testkit's startService does. The base environment is startService's, but with
 * LOG_LEVEL=warn allowed:
 * startService waits for the info-level "listening at" / "worker ready" lines, which a service
 * at warn never writes. Readiness is probed instead: a TCP connect to the port we chose for
 * HTTP services, the worker's registration in Redis (BullMQ's client list) for a worker.
 */

const SOURCE_ENTRY_POINTS: Record<ServiceName, string> = {
  gateway: 'services/gateway/src/server.ts',
  links: 'services/links/src/server.ts',
  'thumbnail-worker': 'services/thumbnail-worker/src/main.ts',
}
const BUILT_ENTRY_POINTS: Record<ServiceName, string> = {
  gateway: 'services/gateway/dist/server.js',
  links: 'services/links/dist/server.js',
  'thumbnail-worker': 'services/thumbnail-worker/dist/main.js',
}

/** What production sets for a service beyond its config: the Dockerfile's gateway stage sets NODE_OPTIONS. */
const PRODUCTION_ENV: Partial<Record<ServiceName, Record<string, string>>> = {
  gateway: { NODE_OPTIONS: '--max-semi-space-size=8' },
}

export const fromSource = process.env.BENCH_FROM_SOURCE === '1' || process.env.BENCH_FROM_SOURCE === 'true'

function commandLine(name: ServiceName): string[] {
  if (fromSource) return ['--conditions=@imageapi/source', '--import', 'tsx', SOURCE_ENTRY_POINTS[name]]
  const entry = join(REPO_ROOT, BUILT_ENTRY_POINTS[name])
  if (!existsSync(entry)) throw new Error(`${BUILT_ENTRY_POINTS[name]} is missing: run \`pnpm build\` first (pnpm bench does), or set BENCH_FROM_SOURCE=1`)
  return [entry]
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

export async function launchService(
  t: Teardown,
  name: ServiceName,
  env: Record<string, string>,
  options: { readyTimeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<RunningService> {
  const isHttp = name !== 'thumbnail-worker'
  const port = isHttp ? await freePort() : 0
  const queue = isHttp ? undefined : createThumbnailQueue({ redisUrl: env.REDIS_URL!, prefix: env.QUEUE_PREFIX! })
  const workersBefore = queue ? (await queue.getWorkers()).length : 0
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...commandLine(name)], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...PRODUCTION_ENV[name], ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const output: string[] = []
  const logs: Array<Record<string, unknown>> = []
  const onLine = (line: string) => {
    output.push(line)
    if (output.length > 500) output.shift()
    if (process.env.BENCH_ECHO) process.stderr.write(`[${name}] ${line}\n`)
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>)
      if (logs.length > 500) logs.shift()
    } catch {
      // not JSON
    }
  }
  createInterface({ input: child.stdout! }).on('line', onLine)
  createInterface({ input: child.stderr! }).on('line', onLine)
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  const alive = () => child.exitCode === null && child.signalCode === null
  t.teardown(async () => {
    if (alive()) {
      child.kill('SIGKILL')
      await exited
    }
  })
  try {
    await waitFor(
      async () => {
        if (!alive()) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output.slice(-30).join('\n')}`)
        if (isHttp) return canConnect(port)
        return (await queue!.getWorkers()).length > workersBefore
      },
      { timeoutMs: options.readyTimeoutMs ?? 60_000, intervalMs: 50, what: `${name} to be ready` },
    )
  } catch (error) {
    if (!alive()) throw new Error(`${name} exited before it was ready:\n${output.slice(-30).join('\n')}`)
    throw error
  } finally {
    await queue?.close()
  }
  return {
    name,
    process: child,
    url: isHttp ? `http://127.0.0.1:${port}` : undefined,
    logs,
    output,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (alive()) child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
      const result = await exited
      clearTimeout(timer)
      return result
    },
  }
}
