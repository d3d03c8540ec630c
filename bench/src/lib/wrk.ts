import { execFileSync, spawn } from 'node:child_process'
import { cpuSeconds } from './procstat.js'

/** wrk (Debian package) is the load generator for serving benchmarks; installed when missing. */
export function ensureWrk(log: (line: string) => void): void {
  const has = () => {
    try {
      execFileSync('wrk', ['--version'], { stdio: 'ignore' })
      return true
    } catch (error) {
      // wrk --version exits 1 after printing its version
      return (error as { code?: string }).code !== 'ENOENT'
    }
  }
  if (has()) return
  log('wrk is missing: apt-get install -y wrk')
  try {
    execFileSync('apt-get', ['install', '-y', 'wrk'], { stdio: ['ignore', 'inherit', 'inherit'] })
  } catch {
    log('install failed; apt-get update first')
    execFileSync('apt-get', ['update'], { stdio: ['ignore', 'inherit', 'inherit'] })
    execFileSync('apt-get', ['install', '-y', 'wrk'], { stdio: ['ignore', 'inherit', 'inherit'] })
  }
  if (!has()) throw new Error('wrk could not be installed')
}

export interface WrkResult {
  requestsPerSecond: number
  requests: number
  p50ms: number
  p90ms: number
  p99ms: number
  maxMs: number
  non2xx: number
  socketErrors: number
  transferPerSecond: string
  /** CPU seconds wrk itself used (it shares the 2 cores with the servers). */
  cpuSeconds: number
  raw: string
}

function toMs(value: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(value.trim())
  if (!match) return Number.NaN
  const n = Number(match[1])
  return match[2] === 'us' ? n / 1000 : match[2] === 'ms' ? n : match[2] === 's' ? n * 1000 : n * 60_000
}

export function parseWrk(raw: string): WrkResult {
  const pct = (p: string) => {
    const match = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(raw)
    return match ? toMs(match[1]!) : Number.NaN
  }
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw)
  return {
    requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(raw)?.[1] ?? Number.NaN),
    requests: Number(/(\d+) requests in/.exec(raw)?.[1] ?? Number.NaN),
    p50ms: pct('50'),
    p90ms: pct('90'),
    p99ms: pct('99'),
    maxMs: toMs(/Latency\s+\S+\s+\S+\s+(\S+)/.exec(raw)?.[1] ?? ''),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(raw)?.[1] ?? 0),
    socketErrors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    transferPerSecond: /Transfer\/sec:\s+(\S+)/.exec(raw)?.[1] ?? '',
    cpuSeconds: 0,
    raw,
  }
}

/**
 * wrk with keep-alive connections and latency percentiles (--latency). One thread by default, so
 * on 2 cores the load generator takes at most one and leaves the other to the servers.
 */
export async function runWrk(url: string, options: { connections: number; seconds: number; threads?: number; headers?: Record<string, string> }): Promise<WrkResult> {
  const args = ['-t', String(options.threads ?? 1), '-c', String(options.connections), '-d', `${options.seconds}s`, '--latency', '--timeout', '10s']
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`)
  // no Lua response() hook: it makes wrk keep every body for Lua, and wrk itself counts non-2xx answers
  args.push(url)
  let cpu = 0
  const raw = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    // the last reading before it exits (within 100 ms of its end)
    const poll = setInterval(() => {
      const seconds = cpuSeconds(child.pid!)
      if (seconds > 0) cpu = seconds
    }, 100)
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.seconds + 30) * 1000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      clearInterval(poll)
      if (code === 0) resolve(out)
      else reject(new Error(`wrk exited ${code}: ${out}`))
    })
  })
  const result = { ...parseWrk(raw), cpuSeconds: cpu }
  if (!Number.isFinite(result.requestsPerSecond)) throw new Error(`could not parse wrk output:\n${raw}`)
  return result
}
