import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino'

export type { Logger }

/** Link paths carry signed tokens: a log line must never let someone open the image. */
const TOKEN_IN_PATH = /\/(v|api\/view)\/[^/?#]+/g

export function redactUrl(url: string): string {
  return url.replace(TOKEN_IN_PATH, '/$1/[redacted]').replace(/([?&](?:token|access|refresh|signature|X-Amz-Signature)=)[^&]*/gi, '$1[redacted]')
}

export interface CreateLoggerOptions {
  /** Service name, on every line. */
  name: string
  level?: string
  destination?: DestinationStream
}

export const REDACT_PATHS = [
  'password',
  '*.password',
  'access',
  'refresh',
  '*.access',
  '*.refresh',
  'token',
  '*.token',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
]

/** Fields that may hold a URL with a link token in it (e.g. a proxy's `source`). */
const URL_PATHS = ['source', 'url', 'location']

export function loggerOptions(options: Omit<CreateLoggerOptions, 'destination'>): LoggerOptions {
  return {
    name: options.name,
    level: options.level ?? 'info',
    redact: {
      paths: [...REDACT_PATHS, ...URL_PATHS],
      // URLs stay readable, with only their tokens cut out
      censor: (value: unknown, path: string[]) => {
        const field = path[path.length - 1]
        return typeof field === 'string' && URL_PATHS.includes(field) && typeof value === 'string' ? redactUrl(value) : '[redacted]'
      },
    },
    serializers: {
      req(req: { method?: string; url?: string; id?: string; headers?: Record<string, unknown>; ip?: string }) {
        return { method: req.method, url: req.url ? redactUrl(req.url) : undefined, id: req.id, ip: req.ip }
      },
      err: pino.stdSerializers.err,
    },
  }
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const { destination, ...rest } = options
  const opts = loggerOptions(rest)
  return destination ? pino(opts, destination) : pino(opts)
}
export { LazyChildLogger, lazyChildLoggerFactory } from './lazy-child.js'
