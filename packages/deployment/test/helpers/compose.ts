import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { REPO_ROOT } from '@imageapi/testkit'

export const COMPOSE_PATH = join(REPO_ROOT, 'docker-compose.yml')
export const ENV_EXAMPLE_PATH = join(REPO_ROOT, '.env.example')

export interface ComposeService {
  image?: string
  build?: { context?: string; target?: string; dockerfile?: string } | string
  command?: string[] | string
  entrypoint?: string[] | string
  environment?: Record<string, string | number | boolean | null>
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] | string }
  ports?: string[]
  expose?: string[]
  volumes?: string[]
  restart?: string
  deploy?: { replicas?: number }
  container_name?: string
  stop_grace_period?: string
}

export interface ComposeFile {
  name?: string
  services: Record<string, ComposeService>
  volumes?: Record<string, unknown>
}

// $$ (a literal $), ${NAME}, ${NAME:-default}, ${NAME-default}, $NAME
const VARIABLE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g

/** Compose's interpolation, for the forms this project uses; anything else is refused. */
export function interpolate(value: string, variables: Record<string, string | undefined>): string {
  if (/\$\{[^}]*\$\{/.test(value)) throw new Error(`nested interpolation is not supported here: ${value}`)
  if (/\$\{[^}]*(:?[?+])/.test(value)) throw new Error(`only \${NAME}, \${NAME:-default} and \${NAME-default} are supported: ${value}`)
  return value.replace(VARIABLE, (match, braced?: string, operator?: string, fallback?: string, bare?: string) => {
    if (match === '$$') return '$'
    const name = (braced ?? bare)!
    const given = variables[name]
    if (operator === ':-') return given === undefined || given === '' ? (fallback ?? '') : given
    if (operator === '-') return given === undefined ? (fallback ?? '') : given
    return given ?? ''
  })
}

function interpolateDeep(value: unknown, variables: Record<string, string | undefined>): unknown {
  if (typeof value === 'string') return interpolate(value, variables)
  if (Array.isArray(value)) return value.map((item) => interpolateDeep(item, variables))
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateDeep(v, variables)]))
  return value
}

export function readComposeText(): string {
  return readFileSync(COMPOSE_PATH, 'utf8')
}

/** The compose file as `docker compose config` sees it: merge keys applied, variables interpolated. */
export function loadCompose(variables: Record<string, string | undefined> = {}, text = readComposeText()): ComposeFile {
  const raw = parse(text, { merge: true }) as Record<string, unknown>
  // x- extension fields only hold anchors; they are not part of the model
  const model = Object.fromEntries(Object.entries(raw).filter(([key]) => !key.startsWith('x-')))
  return interpolateDeep(model, variables) as ComposeFile
}

/** Every variable the compose file reads from the environment or .env, with its default. */
export function composeVariables(text = readComposeText()): Map<string, string | undefined> {
  const found = new Map<string, string | undefined>()
  for (const line of text.split('\n')) {
    if (line.trimStart().startsWith('#')) continue
    for (const match of line.matchAll(VARIABLE)) {
      if (match[0] === '$$') continue
      const name = (match[1] ?? match[4])!
      const fallback = match[2] ? match[3] : undefined
      if (found.has(name) && found.get(name) !== fallback) throw new Error(`${name} has two defaults in docker-compose.yml: ${found.get(name)} and ${fallback}`)
      found.set(name, fallback)
    }
  }
  return found
}

/** KEY=VALUE lines of .env.example (comments and blank lines skipped). */
export function readEnvExample(path = ENV_EXAMPLE_PATH): Map<string, string> {
  const entries = new Map<string, string>()
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(trimmed)
    if (!match) throw new Error(`.env.example: not KEY=VALUE: ${line}`)
    entries.set(match[1]!, match[2]!)
  }
  return entries
}

/** A service's environment as strings (compose turns numbers and booleans into text). */
export function serviceEnvironment(service: ComposeService): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]))
}

export function asArgv(command: string[] | string | undefined): string[] {
  if (command === undefined) return []
  if (Array.isArray(command)) return command
  return command.split(/\s+/).filter(Boolean)
}

export function buildTarget(service: ComposeService): string | undefined {
  return typeof service.build === 'object' ? service.build.target : undefined
}
