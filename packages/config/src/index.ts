import Type, { type Static, type TObject, type TProperties } from 'typebox'
import Value from 'typebox/value'

export { Type }
export type { Static }

/** Thrown when the environment does not satisfy a service's config schema; names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: Array<{ variable: string; message: string }>) {
    super(
      'Invalid configuration:\n' +
        problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n'),
    )
    this.name = 'ConfigError'
  }
}

type Env = Record<string, string | undefined>

/**
 * Reads the variables named by the schema's properties from `env`, fills defaults,
 * coerces strings to numbers and booleans, and validates. Empty strings count as unset,
 * as they do in docker compose files where `FOO=` means "not given".
 */
export function loadConfig<P extends TProperties>(schema: TObject<P>, env: Env = process.env): Static<TObject<P>> {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(schema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  // Value.Convert would read "1.5" or "0x10" as an integer; a config value must mean what it says
  for (const [key, value] of Object.entries(raw)) {
    const type = (schema.properties[key] as { type?: string } | undefined)?.type
    if (type === 'integer' && !/^[+-]?\d+$/.test(String(value))) raw[key] = String(value) + ' (not a whole number)'
    if (type === 'number' && !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(String(value))) raw[key] = String(value) + ' (not a number)'
  }
  const withDefaults = Value.Default(schema, raw) as Record<string, unknown>
  const converted = Value.Convert(schema, withDefaults) as Record<string, unknown>
  const problems: Array<{ variable: string; message: string }> = []
  for (const error of Value.Errors(schema, converted)) {
    const variable = variableOf(error) ?? '(config)'
    if (problems.some((p) => p.variable === variable)) continue
    const given = converted[variable]
    problems.push({
      variable,
      message: given === undefined ? 'is required' : `${describe(error)} (got ${JSON.stringify(env[variable])})`,
    })
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return converted as Static<TObject<P>>
}

function variableOf(error: { instancePath?: string; params?: Record<string, unknown> }): string | undefined {
  const path = error.instancePath ?? ''
  if (path.length > 1) return path.slice(1).split('/')[0]
  const missing = error.params?.['requiredProperties'] ?? error.params?.['missingProperty']
  if (Array.isArray(missing)) return String(missing[0])
  if (typeof missing === 'string') return missing
  return undefined
}

function describe(error: { message?: string }): string {
  return error.message ?? 'is invalid'
}

/** Prints a ConfigError as one line per variable and exits 1; rethrows anything else. */
export function exitOnConfigError(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(error.message + '\n')
    process.exit(1)
  }
  throw error
}

/**
 * Development defaults (fixed secrets, embedded storage) make a laptop work with no setup;
 * in production each of these variables must be given explicitly.
 */
export function requireInProduction(env: Env, names: readonly string[]): void {
  if (env.NODE_ENV !== 'production') return
  const problems = names
    .filter((name) => env[name] === undefined || env[name] === '')
    .map((variable) => ({ variable, message: 'is required when NODE_ENV=production' }))
  if (problems.length > 0) throw new ConfigError(problems)
}

/** Variables every service reads. */
export const serviceEnvSchema = {
  NODE_ENV: Type.String({ default: 'development' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info' },
  ),
  /** When set, GET /metrics wants `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
}
