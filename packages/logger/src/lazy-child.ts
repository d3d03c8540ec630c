import type { Bindings, ChildLoggerOptions, Level, LevelWithSilentOrString, Logger } from 'pino'

type LogMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/**
 * A per-request logger whose pino child is made only when something is logged at an enabled level.
 * Fastify makes a child for every request (its request id as a binding, sometimes a route's own
 * level); on a hot route that logs nothing at the configured level — view links at `warn` — making
 * it is measurable work per request for lines never written.
 */
export class LazyChildLogger {
  #child: Logger | undefined
  readonly #parent: Logger
  readonly #bindings: Bindings
  readonly #options: ChildLoggerOptions

  constructor(parent: Logger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  get level(): LevelWithSilentOrString {
    return this.#child?.level ?? this.#options.level ?? this.#parent.level
  }

  set level(level: LevelWithSilentOrString) {
    this.#real().level = level
  }

  isLevelEnabled(level: LevelWithSilentOrString): boolean {
    if (this.#child) return this.#child.isLevelEnabled(level)
    const values = this.#parent.levels.values
    const threshold = values[this.level]
    // 'silent' (or an unknown name) is not in the table: nothing is enabled
    return threshold !== undefined && (values[level] ?? -Infinity) >= threshold
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.#real().child(bindings, options)
  }

  bindings(): Bindings {
    return this.#child?.bindings() ?? { ...this.#parent.bindings(), ...this.#bindings }
  }

  fatal(...args: unknown[]): void {
    this.#log('fatal', args)
  }
  error(...args: unknown[]): void {
    this.#log('error', args)
  }
  warn(...args: unknown[]): void {
    this.#log('warn', args)
  }
  info(...args: unknown[]): void {
    this.#log('info', args)
  }
  debug(...args: unknown[]): void {
    this.#log('debug', args)
  }
  trace(...args: unknown[]): void {
    this.#log('trace', args)
  }
  silent(): void {}

  #log(method: LogMethod, args: unknown[]): void {
    if (!this.isLevelEnabled(method as Level)) return
    ;(this.#real()[method] as (...a: unknown[]) => void)(...args)
  }

  #real(): Logger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options)
    return this.#child
  }
}

/**
 * Fastify's `childLoggerFactory` option: request loggers that cost nothing until they log. Fastify
 * types the parent as its own logger interface; it is the pino logger built from our options.
 */
export function lazyChildLoggerFactory(logger: object, bindings: Bindings, options: ChildLoggerOptions): Logger {
  return new LazyChildLogger(logger as Logger, bindings, options) as unknown as Logger
}
