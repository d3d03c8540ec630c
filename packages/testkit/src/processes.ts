import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import type { Teardown } from './environment.js'

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

export type ServiceName = 'gateway' | 'links' | 'thumbnail-worker'

const ENTRY_POINTS: Record<ServiceName, string> = {
  gateway: 'services/gateway/src/server.ts',
  links: 'services/links/src/server.ts',
  'thumbnail-worker': 'services/thumbnail-worker/src/main.ts',
}

export interface RunningService {
  name: ServiceName
  process: ChildProcess
  /** Base URL, for services that listen on HTTP. */
  url: string | undefined
  /** Every log line so far, parsed where it is JSON. */
  logs: Array<Record<string, unknown>>
  /** Raw output, JSON or not. */
  output: string[]
  /** Sends the signal and resolves with the exit code (or the signal's name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>
  exited: Promise<number | string>
}

/**
 * Starts a service as its own process, from source, the way production runs the built one, and
 * waits until it says it is ready. The process is killed in teardown if the test left it running.
 */
export async function startService(t: Teardown, name: ServiceName, env: Record<string, string>, options: { readyTimeoutMs?: number } = {}): Promise<RunningService> {
  const child = spawn(process.execPath, ['--conditions=@imageapi/source', '--import', 'tsx', ENTRY_POINTS[name]], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', WORKER_HTTP_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: Array<Record<string, unknown>> = []
  const output: string[] = []
  let url: string | undefined
  let markReady: () => void
  const ready = new Promise<void>((resolveReady) => (markReady = resolveReady))
  const onLine = (line: string) => {
    output.push(line)
    if (process.env.TESTKIT_ECHO) process.stderr.write(`[${name}] ${line}\n`)
    try {
      const entry = JSON.parse(line) as Record<string, unknown>
      logs.push(entry)
      const msg = String(entry.msg ?? '')
      const listening = /listening at (http:\/\/\S+)/i.exec(msg)
      if (listening && !url) {
        url = listening[1]
        markReady()
      }
      if (msg === 'worker ready') markReady()
    } catch {
      // not JSON: a crash trace, kept in output
    }
  }
  createInterface({ input: child.stdout! }).on('line', onLine)
  createInterface({ input: child.stderr! }).on('line', onLine)
  const exited = new Promise<number | string>((resolveExit) => child.once('exit', (code, signal) => resolveExit(code ?? signal ?? -1)))

  const service: RunningService = {
    name,
    process: child,
    get url() {
      return url
    },
    logs,
    output,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      const result = await exited
      clearTimeout(timer)
      return result
    },
  }
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`${name} did not become ready:\n${output.slice(-30).join('\n')}`)), options.readyTimeoutMs ?? 90_000).unref(),
  )
  const crashed = exited.then((code) => {
    throw new Error(`${name} exited (${code}) before it was ready:\n${output.slice(-30).join('\n')}`)
  })
  crashed.catch(() => {})
  try {
    await Promise.race([ready, timeout, crashed])
  } catch (error) {
    // a test file that fails here may never reach its teardown: leave no process behind
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
    throw error
  }
  return service
}

/**
 * Starts several services side by side. If one does not become ready, the others are stopped before
 * the error is thrown, so a test file that dies on it leaves no process running.
 */
export async function startServices<const T extends ReadonlyArray<{ name: ServiceName; env: Record<string, string> }>>(
  t: Teardown,
  services: T,
  options: { readyTimeoutMs?: number } = {},
): Promise<{ [K in keyof T]: RunningService }> {
  const started = await Promise.allSettled(services.map((service) => startService(t, service.name, service.env, options)))
  const failure = started.find((result) => result.status === 'rejected')
  if (!failure) return started.map((result) => (result as PromiseFulfilledResult<RunningService>).value) as { [K in keyof T]: RunningService }
  await Promise.all(started.map((result) => (result.status === 'fulfilled' ? result.value.stop('SIGKILL') : undefined)))
  throw failure.reason
}
