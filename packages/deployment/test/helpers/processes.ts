import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import type { Teardown } from '@imageapi/testkit'

/** The node image's unprivileged user, which the Dockerfile's USER names. */
export const IMAGE_USER = { name: 'node', uid: 1000, gid: 1000 }

/** Run as the image's user when we can (as root); otherwise as whoever runs the tests. */
export function runAs(): { uid?: number; gid?: number } {
  return process.getuid?.() === 0 ? { uid: IMAGE_USER.uid, gid: IMAGE_USER.gid } : {}
}

export interface ArtifactProcess {
  name: string
  process: ChildProcess
  output: string[]
  logs: Array<Record<string, unknown>>
  exited: Promise<number | string>
  stop(signal?: NodeJS.Signals): Promise<number | string>
}

export interface SpawnOptions {
  name: string
  cwd: string
  argv: string[]
  /** The whole environment: nothing is inherited from the test process but PATH. */
  env: Record<string, string>
}

/**
 * `argv` with exactly `env` and nothing else. tap instruments every process a test spawns (it adds
 * NODE_OPTIONS with its own loaders and _TAPJS_* variables); `env -i` starts the command with a
 * clean environment, as a container starts, and execs it (same pid, so signals reach it).
 */
export function cleanCommand(argv: string[], env: Record<string, string>): [string, string[]] {
  return ['env', ['-i', ...Object.entries(env).map(([name, value]) => `${name}=${value}`), ...argv]]
}

/** Spawns `argv` in `cwd` with exactly `env` (plus PATH), as the image's user, collecting its output. */
export function spawnArtifact(t: Teardown, options: SpawnOptions): ArtifactProcess {
  const [command, args] = cleanCommand(options.argv, { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', ...options.env })
  const child = spawn(command, args, {
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...runAs(),
  })
  const output: string[] = []
  const logs: Array<Record<string, unknown>> = []
  const onLine = (line: string) => {
    output.push(line)
    if (process.env.TESTKIT_ECHO) process.stderr.write(`[${options.name}] ${line}\n`)
    try {
      const entry = JSON.parse(line) as unknown
      if (entry && typeof entry === 'object') logs.push(entry as Record<string, unknown>)
    } catch {
      // not JSON
    }
  }
  createInterface({ input: child.stdout! }).on('line', onLine)
  createInterface({ input: child.stderr! }).on('line', onLine)
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1))
    child.once('error', (error) => {
      output.push(String(error))
      resolve(-1)
    })
  })
  const running = () => child.exitCode === null && child.signalCode === null
  t.teardown(async () => {
    if (running()) {
      child.kill('SIGKILL')
      await exited
    }
  })
  return {
    name: options.name,
    process: child,
    output,
    logs,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (running()) child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      const result = await exited
      clearTimeout(timer)
      return result
    },
  }
}

/** Runs a one-shot command to its end: exit code and every line it wrote. */
export async function runArtifact(t: Teardown, options: SpawnOptions, timeoutMs = 60_000): Promise<{ code: number | string; output: string }> {
  const child = spawnArtifact(t, options)
  const timer = setTimeout(() => child.process.kill('SIGKILL'), timeoutMs)
  const code = await child.exited
  clearTimeout(timer)
  // let readline deliver the last lines
  await new Promise((resolve) => setImmediate(resolve))
  return { code, output: child.output.join('\n') }
}

/** Waits until a log line satisfies `ready`; fails with the process's last lines if it exits first. */
export async function waitUntilReady(child: ArtifactProcess, ready: (entry: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let exitedWith: number | string | undefined
  void child.exited.then((code) => (exitedWith = code))
  while (!child.logs.some(ready)) {
    if (exitedWith !== undefined) throw new Error(`${child.name} exited (${exitedWith}) before it was ready:\n${child.output.slice(-30).join('\n')}`)
    if (Date.now() > deadline) throw new Error(`${child.name} was not ready within ${timeoutMs} ms:\n${child.output.slice(-30).join('\n')}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** A port nothing listens on right now, for services whose URL must be known before they start. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}
