import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Teardown } from './environment.js'
import { freePort } from './infrastructure.js'

/** Debian's nginx binary; the fixture runs this one, never a copy on PATH. */
export const NGINX_BINARY = '/usr/sbin/nginx'
/** The Debian package that ships it (nginx-light and nginx-core are flavours of the same binary). */
export const NGINX_PACKAGE = 'nginx'

const TEMPLATE = new URL('../fixtures/nginx.conf', import.meta.url)
const LINKS_TEMPLATE = new URL('../fixtures/nginx-links.conf', import.meta.url)

/** The gateway's default upload limit (25 MiB) with room for the multipart envelope around the file. */
const DEFAULT_CLIENT_MAX_BODY_BYTES = 26 * 1024 * 1024

export interface StartNginxOptions {
  /** Base URLs (http://host:port) of the instances behind the proxy. */
  upstreams: { gateway: string[]; links?: string[] }
  /** Failed attempts within failTimeoutSeconds that mark a server down (nginx's max_fails). */
  maxFails?: number
  /** How long a server stays marked down, and the window max_fails counts in (nginx's fail_timeout). */
  failTimeoutSeconds?: number
  /** Largest request body nginx lets through; keep it at least the gateway's UPLOAD_MAX_BYTES. */
  clientMaxBodyBytes?: number
  /** Ports to listen on (default: free ones); chosen beforehand when the services behind must know the proxy's address first. */
  port?: number
  linksPort?: number
  readyTimeoutMs?: number
}

export interface RunningNginx {
  /** The public address: requests here go to the gateways. */
  url: string
  /** The address in front of the links services (for the gateways' LINKS_URL), when links were given. */
  linksUrl: string | undefined
  /** The configuration nginx runs with, as written. */
  config: string
  /** nginx's temporary folder: configuration, pid, error and access logs (removed in teardown). */
  dir: string
  process: ChildProcess
  /** Lines of the access log so far: request, status, the upstream(s) tried. */
  accessLog(): Promise<string[]>
  /** Stops exactly this nginx (its master and its worker processes). */
  stop(): Promise<void>
}

/**
 * Installs Debian's nginx when the binary is missing, as the radosgw fixture installs Ceph. Needs
 * root (apt-get); otherwise says what to run. On a machine with an init system and no policy-rc.d
 * forbidding it (containers have one), the package's scripts also start the system nginx on port
 * 80; the fixture never uses that one.
 */
export function ensureNginxInstalled(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): void {
  if (existsSync(NGINX_BINARY)) return
  if (process.getuid?.() !== 0) {
    throw new Error(`the proxy fixture needs Debian's nginx (${NGINX_BINARY} is missing); install it with: sudo apt-get install -y --no-install-recommends ${NGINX_PACKAGE}`)
  }
  log(`installing ${NGINX_PACKAGE} (Debian package) for the proxy fixture`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env })
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', NGINX_PACKAGE], { stdio: 'ignore', env })
  if (!existsSync(NGINX_BINARY)) throw new Error(`installed ${NGINX_PACKAGE} but ${NGINX_BINARY} is still missing`)
}

function hostPort(url: string): string {
  const parsed = new URL(url)
  if (parsed.protocol !== 'http:' || !parsed.port) throw new Error(`an upstream must be http://host:port, got ${url}`)
  return `${parsed.hostname}:${parsed.port}`
}

function serverLines(urls: string[], maxFails: number, failTimeoutSeconds: number): string {
  if (urls.length === 0) throw new Error('an upstream needs at least one server')
  return urls.map((url) => `    server ${hostPort(url)} max_fails=${maxFails} fail_timeout=${failTimeoutSeconds}s;`).join('\n')
}

function fill(template: string, values: Record<string, string>): string {
  const filled = template.replace(/\{\{([A-Z_]+)\}\}/g, (placeholder, name: string) => {
    const value = values[name]
    if (value === undefined) throw new Error(`nginx fixture template: no value for ${placeholder}`)
    return value
  })
  return filled
}

/** The fixture's configuration for the given ports and upstreams (also what nginx -t can check). */
export function nginxConfig(options: StartNginxOptions & { dir: string; port: number }): string {
  const maxFails = options.maxFails ?? 1
  const failTimeoutSeconds = options.failTimeoutSeconds ?? 10
  const links = options.upstreams.links
  let linksServer = ''
  if (links && links.length > 0) {
    if (options.linksPort === undefined) throw new Error('links upstreams need a linksPort')
    linksServer = fill(readFileSync(LINKS_TEMPLATE, 'utf8'), { LINKS_SERVERS: serverLines(links, maxFails, failTimeoutSeconds), LINKS_PORT: String(options.linksPort) })
  }
  return fill(readFileSync(TEMPLATE, 'utf8'), {
    DIR: options.dir,
    PORT: String(options.port),
    CLIENT_MAX_BODY_SIZE: String(options.clientMaxBodyBytes ?? DEFAULT_CLIENT_MAX_BODY_BYTES),
    GATEWAY_SERVERS: serverLines(options.upstreams.gateway, maxFails, failTimeoutSeconds),
    LINKS_SERVER: linksServer,
  })
}

/**
 * Whether nginx answers, without touching an upstream: a probe that reached a not-yet-started
 * gateway would mark it failed for fail_timeout. A request without Host is refused by nginx
 * itself (400), before any proxying.
 */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let received = ''
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write('GET / HTTP/1.1\r\n\r\n'))
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1')
      if (received.includes('\r\n')) done(/^HTTP\/1\.\d 400 /.test(received))
    })
    socket.on('end', () => done(false))
  })
}

/** Worker processes of an nginx master: the processes whose parent it is. */
function childrenOf(pid: number): number[] {
  const children: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // the command name is in parentheses and may hold spaces; the parent pid is the second field after it
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[1]) === pid) children.push(Number(entry))
    } catch {
      // the process ended while we looked
    }
  }
  return children
}

/**
 * Runs Debian's nginx with the project's fixture configuration (fixtures/nginx.conf) on a free
 * loopback port in front of the given gateways and, on a second port, the given links services.
 * Resolves once it answers; stopped in teardown.
 */
export async function startNginx(t: Teardown, options: StartNginxOptions): Promise<RunningNginx> {
  ensureNginxInstalled()
  const dir = await mkdtemp(join(tmpdir(), 'imageapi-nginx-'))
  // started as root, nginx's workers run as an unprivileged user and must reach their temp folders
  await chmod(dir, 0o755)
  const port = options.port ?? (await freePort())
  const linksPort = options.upstreams.links?.length ? (options.linksPort ?? (await freePort())) : undefined
  const config = nginxConfig({ ...options, dir, port, linksPort })
  const configPath = join(dir, 'nginx.conf')
  await writeFile(configPath, config)

  // -e: the error log from the first moment, before the configuration names its own
  const child = spawn(NGINX_BINARY, ['-p', dir, '-c', configPath, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] })
  const output: string[] = []
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const running = () => child.exitCode === null && child.signalCode === null

  const stop = async () => {
    if (!running()) return
    const workers = childrenOf(child.pid!)
    // TERM: nginx's fast shutdown, the master stops its workers before it exits
    child.kill('SIGTERM')
    const timer = setTimeout(() => {
      for (const worker of workers) {
        try {
          process.kill(worker, 'SIGKILL')
        } catch {
          // already gone
        }
      }
      child.kill('SIGKILL')
    }, 5_000)
    await exited
    clearTimeout(timer)
  }
  t.teardown(async () => {
    await stop()
    await rm(dir, { recursive: true, force: true })
  })

  const errorLog = async () => (await readFile(join(dir, 'error.log'), 'utf8').catch(() => '')).trim()
  const deadline = Date.now() + (options.readyTimeoutMs ?? 10_000)
  while (!(await answers(port))) {
    if (!running()) throw new Error(`nginx exited before it answered:\n${output.join('')}\n${await errorLog()}`)
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`nginx did not answer on 127.0.0.1:${port} within ${options.readyTimeoutMs ?? 10_000} ms:\n${await errorLog()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }

  return {
    url: `http://127.0.0.1:${port}`,
    linksUrl: linksPort === undefined ? undefined : `http://127.0.0.1:${linksPort}`,
    config,
    dir,
    process: child,
    async accessLog() {
      return (await readFile(join(dir, 'access.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean)
    },
    stop,
  }
}
