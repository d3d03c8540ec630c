import { isIP } from 'node:net'
import { describeRefusal, refusalOf } from './addresses.js'

export const MAX_WEBHOOK_URL_LENGTH = 2048

export interface WebhookSafety {
  /** Accept `http:` URLs as well as `https:`; for local development only. */
  readonly allowHttp?: boolean
  /** Accept loopback targets (127.0.0.0/8, ::1, localhost); for local development only. */
  readonly allowLoopback?: boolean
}

export type WebhookUrlCheck = { ok: true; url: URL } | { ok: false; reason: string }

const PUBLIC_ONLY = 'webhooks are only sent to addresses on the public internet'

/**
 * Checks a webhook URL a user registers. Hostnames are not resolved here: what a name resolves
 * to can change after registration, so deliverWebhook checks the resolved addresses on every
 * delivery. This catches what is wrong with the URL itself, with a reason the user can act on.
 */
export function checkWebhookUrl(text: string, safety: WebhookSafety = {}): WebhookUrlCheck {
  if (typeof text !== 'string' || text.trim() === '') return refuse('the URL is empty')
  if (text.length > MAX_WEBHOOK_URL_LENGTH) return refuse(`the URL is ${text.length} characters long; at most ${MAX_WEBHOOK_URL_LENGTH} are allowed`)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return refuse('the URL is not a valid absolute URL (expected something like https://example.com/webhooks)')
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && safety.allowHttp === true)) {
    return refuse(`the URL must start with https:// (${url.protocol}// is not accepted)`)
  }
  if (url.username !== '' || url.password !== '') {
    return refuse('the URL must not contain a username or password; verify requests with the webhook signature instead')
  }
  // `#` can only start a fragment; checking the text also catches an empty one, which url.hash reports as ''.
  if (text.includes('#')) return refuse('the URL must not contain a #fragment, which is never sent to the server')
  if (url.href.length > MAX_WEBHOOK_URL_LENGTH) return refuse(`the URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters once normalised`)
  if (url.hostname === '') return refuse('the URL has no host')
  const hostProblem = hostRefusal(bareHostname(url), safety)
  return hostProblem === undefined ? { ok: true, url } : refuse(hostProblem)
}

/** The host as a resolver or socket wants it: IPv6 literals without brackets, no trailing root dot. */
export function bareHostname(url: URL): string {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  return host.endsWith('.') ? host.slice(0, -1) : host
}

function hostRefusal(host: string, safety: WebhookSafety): string | undefined {
  if (isIP(host) !== 0) {
    const refusal = refusalOf(host, { allowLoopback: safety.allowLoopback === true })
    return refusal && `the host ${describeRefusal(refusal)}; ${PUBLIC_ONLY}`
  }
  // The URL parser has already lower-cased the name. `localhost` resolves to this machine whatever DNS says (RFC 6761).
  if ((host === 'localhost' || host.endsWith('.localhost')) && safety.allowLoopback !== true) {
    return `the host ${host} is this machine (loopback); ${PUBLIC_ONLY}`
  }
  return undefined
}

function refuse(reason: string): WebhookUrlCheck {
  return { ok: false, reason }
}

export interface WebhookSafetyEnv {
  readonly WEBHOOK_ALLOW_LOOPBACK?: string | undefined
  readonly WEBHOOK_ALLOW_HTTP?: string | undefined
  readonly NODE_ENV?: string | undefined
}

/**
 * Reads the development escape hatches. Both are off unless set to `1` or `true`; production
 * refuses to start with either, since each reopens a way to reach internal services.
 */
export function webhookSafetyFromEnv(env: WebhookSafetyEnv): Required<WebhookSafety> {
  const allowLoopback = flag(env, 'WEBHOOK_ALLOW_LOOPBACK')
  const allowHttp = flag(env, 'WEBHOOK_ALLOW_HTTP')
  if (env.NODE_ENV === 'production') {
    const set = [allowLoopback && 'WEBHOOK_ALLOW_LOOPBACK', allowHttp && 'WEBHOOK_ALLOW_HTTP'].filter(Boolean)
    if (set.length > 0) {
      throw new Error(
        `Invalid configuration: ${set.join(' and ')} must not be set when NODE_ENV=production; ` +
          'they exist for local development and would let webhooks reach internal services',
      )
    }
  }
  return { allowLoopback, allowHttp }
}

function flag(env: WebhookSafetyEnv, name: 'WEBHOOK_ALLOW_LOOPBACK' | 'WEBHOOK_ALLOW_HTTP'): boolean {
  const value = (env[name] ?? '').trim().toLowerCase()
  if (value === '1' || value === 'true') return true
  if (value === '' || value === '0' || value === 'false') return false
  throw new Error(`Invalid configuration: ${name} must be 1 or 0 (got ${JSON.stringify(env[name]).slice(0, 40)})`)
}
