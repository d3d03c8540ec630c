import { spawnSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureNginxInstalled, NGINX_BINARY, REPO_ROOT } from '@imageapi/testkit'

export const PROXY_CONFIG_PATH = join(REPO_ROOT, 'deploy/nginx/nginx.conf')

export function readProxyConfig(): string {
  return readFileSync(PROXY_CONFIG_PATH, 'utf8')
}

export interface ProxyServer {
  /** The ports of its `listen` directives. */
  listen: number[]
  /** Where its proxy_pass sends requests: host and port, after the `set $variable` it names. */
  upstream: { host: string; port: number } | undefined
  /** Every simple directive of the block, name → values (the last one wins). */
  directives: Map<string, string>
}

function withoutComments(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(/(^|\s)#.*$/, ''))
    .join('\n')
}

/** The `server { … }` blocks of an nginx configuration, with the little the tests look at. */
export function proxyServers(text = readProxyConfig()): ProxyServer[] {
  const source = withoutComments(text)
  const servers: ProxyServer[] = []
  for (const start of source.matchAll(/\bserver\s*\{/g)) {
    // the block's extent, by counting braces
    let depth = 0
    let end = start.index!
    for (let i = start.index! + start[0].length - 1; i < source.length; i++) {
      if (source[i] === '{') depth++
      if (source[i] === '}' && --depth === 0) {
        end = i
        break
      }
    }
    const block = source.slice(start.index!, end)
    const statements = block.split(/[;{}]/).map((s) => s.trim()).filter(Boolean)
    const directives = new Map<string, string>()
    const variables = new Map<string, string>()
    const listen: number[] = []
    for (const statement of statements) {
      const [name, ...values] = statement.split(/\s+/)
      directives.set(name!, values.join(' '))
      if (name === 'listen') listen.push(Number(/(\d+)$/.exec(values[0]!)?.[1]))
      if (name === 'set') variables.set(values[0]!, values[1]!)
    }
    const target = /^https?:\/\/(\$\w+|[^/\s]+)/.exec(directives.get('proxy_pass') ?? '')?.[1]
    const address = target?.startsWith('$') ? variables.get(target) : target
    const parsed = address ? /^([\w.-]+):(\d+)$/.exec(address) : null
    servers.push({ listen, upstream: parsed ? { host: parsed[1]!, port: Number(parsed[2]) } : undefined, directives })
  }
  return servers
}

/**
 * `nginx -t` (Debian's nginx) on a copy of the configuration with every compose service name
 * replaced by 127.0.0.1, in a temporary prefix: the syntax and every directive's arguments checked
 * without Docker. Returns nginx's exit status and what it printed.
 */
export function nginxSyntaxCheck(serviceNames: string[], text = readProxyConfig()): { status: number | null; output: string } {
  ensureNginxInstalled()
  let copy = text
  for (const name of serviceNames) copy = copy.replace(new RegExp(`\\b${name}:(\\d+)\\b`, 'g'), '127.0.0.1:$1')
  const dir = mkdtempSync(join(tmpdir(), 'imageapi-proxy-config-'))
  try {
    const path = join(dir, 'nginx.conf')
    writeFileSync(path, copy)
    // stdout and stderr are files, as in a container: nginx opens /dev/stdout, which a pipe or socket would refuse
    const outputPath = join(dir, 'output')
    const output = openSync(outputPath, 'w')
    try {
      const result = spawnSync(NGINX_BINARY, ['-t', '-p', dir, '-c', path, '-e', join(dir, 'error.log'), '-g', `pid ${join(dir, 'nginx.pid')};`], { stdio: ['ignore', output, output] })
      return { status: result.status, output: readFileSync(outputPath, 'utf8') }
    } finally {
      closeSync(output)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** nginx's size syntax (26m, 512k, 1g, bytes) in bytes. */
export function nginxSize(value: string): number {
  const match = /^(\d+)([kmg]?)$/i.exec(value.trim())
  if (!match) throw new Error(`not an nginx size: ${value}`)
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g']
  return Number(match[1]) * unit
}
