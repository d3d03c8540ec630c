import { lookup as dnsLookup } from 'node:dns/promises'
import http from 'node:http'
import https from 'node:https'
import { isIP, type LookupFunction } from 'node:net'
import { describeRefusal, refusalOf } from './addresses.js'
import { bareHostname, checkWebhookUrl } from './target-url.js'

export const WEBHOOK_USER_AGENT = 'imageapi-webhooks/1'
export const DEFAULT_DELIVERY_TIMEOUT_MS = 10_000
export const DEFAULT_MAX_RESPONSE_BYTES = 1024

export interface ResolvedAddress {
  readonly address: string
  readonly family: number
}

/** Resolves a hostname to every address it has, as `dns.promises.lookup(host, { all: true })` does. */
export type HostResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>

export interface DeliverWebhookOptions {
  readonly url: string
  /** The serialised envelope, exactly the string that was signed. */
  readonly body: string
  /** Usually the signWebhook headers. Content-Type, User-Agent, Host and framing headers are set here and cannot be overridden. */
  readonly headers: Readonly<Record<string, string>>
  /** Defaults to the system resolver; injected by tests and by callers with their own DNS. */
  readonly resolve?: HostResolver
  readonly allowLoopback?: boolean
  readonly allowHttp?: boolean
  /** Bounds the whole attempt: resolving, connecting, sending and reading the answer. */
  readonly timeoutMs?: number
  /** How much of the receiver's answer is kept; the connection is closed once this much has arrived. */
  readonly maxResponseBytes?: number
  /** Called with the checked address right before a socket is opened; throwing aborts the attempt. */
  readonly connect?: (address: string, port: number) => void
}

export interface DeliveryResult {
  /** `delivered`: the receiver answered 2xx. `refused`: the target failed the SSRF checks and nothing was sent. */
  outcome: 'delivered' | 'failed' | 'refused'
  status?: number
  latencyMs: number
  error?: string
  /** The start of the receiver's answer as text, at most maxResponseBytes bytes of UTF-8. */
  responseExcerpt?: string
}

type AttemptResult = Omit<DeliveryResult, 'latencyMs'>

interface PinnedTarget {
  readonly url: URL
  readonly hostname: string
  /** The address that was checked; the only one the socket may connect to. */
  readonly address: string
  readonly family: 4 | 6
  readonly port: number
}

interface ReceiverAnswer {
  readonly status: number
  readonly excerpt: string
}

class DeliveryTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`timeout: the delivery did not complete within ${timeoutMs} ms`)
    this.name = 'DeliveryTimeout'
  }
}

const PUBLIC_ONLY = 'webhooks are only sent to addresses on the public internet'

const resolveWithSystemDns: HostResolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true })

/**
 * Sends one webhook attempt. The target is checked on every call, after resolving, and the socket
 * is pinned to the address that passed: a name that resolves somewhere public at registration and
 * somewhere internal later (DNS rebinding) is refused when it matters. Network problems and bad
 * answers become `failed`; the promise rejects only for invalid options, which are caller bugs.
 */
export async function deliverWebhook(options: DeliverWebhookOptions): Promise<DeliveryResult> {
  const { timeoutMs = DEFAULT_DELIVERY_TIMEOUT_MS, maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES } = options
  assertValidOptions(options, timeoutMs, maxResponseBytes)
  const startedAt = performance.now()
  const latency = () => Math.round(performance.now() - startedAt)
  const deadline = new AbortController()
  const timer = setTimeout(() => deadline.abort(new DeliveryTimeout(timeoutMs)), timeoutMs)
  try {
    const target = await pinTarget(options, deadline.signal)
    if (!('address' in target)) return { ...target, latencyMs: latency() }
    const answer = await postToPinnedAddress(target, options, maxResponseBytes, deadline.signal)
    return { ...resultOfAnswer(answer), latencyMs: latency() }
  } catch (error) {
    return { outcome: 'failed', error: messageOf(error), latencyMs: latency() }
  } finally {
    clearTimeout(timer)
  }
}

async function pinTarget(options: DeliverWebhookOptions, signal: AbortSignal): Promise<PinnedTarget | AttemptResult> {
  const safety = { allowHttp: options.allowHttp === true, allowLoopback: options.allowLoopback === true }
  const checked = checkWebhookUrl(options.url, safety)
  if (!checked.ok) return { outcome: 'refused', error: checked.reason }
  const { url } = checked
  const hostname = bareHostname(url)
  const addresses =
    isIP(hostname) !== 0 ? [{ address: hostname, family: isIP(hostname) }] : await resolveHost(hostname, options, signal)
  if (addresses.length === 0) return { outcome: 'failed', error: `could not resolve ${hostname}: no addresses` }
  // Every address is checked, not just the one used: a resolver may hand out a mix, and the next lookup may pick another.
  for (const { address } of addresses) {
    const refusal = refusalOf(address, safety)
    if (refusal) return { outcome: 'refused', error: `${hostname} resolves to ${describeRefusal(refusal)}; ${PUBLIC_ONLY}` }
  }
  const address = addresses[0]!.address
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)
  return { url, hostname, address, family: isIP(address) as 4 | 6, port }
}

async function resolveHost(hostname: string, options: DeliverWebhookOptions, signal: AbortSignal): Promise<readonly ResolvedAddress[]> {
  const resolver = options.resolve ?? resolveWithSystemDns
  let addresses: unknown
  try {
    addresses = await beforeAbort(signal, Promise.resolve().then(() => resolver(hostname)))
  } catch (error) {
    if (error instanceof DeliveryTimeout) throw error
    throw new Error(`could not resolve ${hostname}: ${messageOf(error)}`)
  }
  if (!Array.isArray(addresses) || !addresses.every((entry) => typeof entry?.address === 'string')) {
    throw new Error(`could not resolve ${hostname}: the resolver returned something other than a list of addresses`)
  }
  return addresses as ResolvedAddress[]
}

function beforeAbort<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/**
 * POSTs to the checked address. Node is never given the chance to resolve the name again (the
 * lookup hook answers with the pinned address), while Host and TLS SNI still carry the hostname
 * so certificates and virtual hosts work.
 */
function postToPinnedAddress(
  target: PinnedTarget,
  options: DeliverWebhookOptions,
  maxResponseBytes: number,
  signal: AbortSignal,
): Promise<ReceiverAnswer> {
  signal.throwIfAborted()
  options.connect?.(target.address, target.port)
  return new Promise<ReceiverAnswer>((resolve, reject) => {
    let settled = false
    const settle = (outcome: () => void) => {
      if (settled) return
      settled = true
      signal.removeEventListener('abort', onAbort)
      outcome()
      request.destroy()
    }
    let finishReading: (() => void) | undefined
    const onAbort = () => (finishReading ? finishReading() : settle(() => reject(signal.reason)))
    const request = openRequest(target, options)
    // Stays attached after settling: destroying the request can still emit errors, and an unheard one would crash the process.
    request.on('error', (error) => settle(() => reject(error)))
    request.on('response', (response) => {
      finishReading = readExcerpt(response, maxResponseBytes, (excerpt) => {
        settle(() => resolve({ status: response.statusCode ?? 0, excerpt }))
        response.destroy()
      })
    })
    signal.addEventListener('abort', onAbort, { once: true })
    request.end(options.body)
  })
}

function openRequest(target: PinnedTarget, options: DeliverWebhookOptions): http.ClientRequest {
  const common = {
    host: target.hostname,
    port: target.port,
    path: `${target.url.pathname}${target.url.search}`,
    method: 'POST',
    headers: requestHeaders(options.headers, options.body),
    lookup: pinnedLookup(target),
    // A pooled keep-alive socket would skip both the check and the pin on the next delivery.
    agent: false as const,
  }
  if (target.url.protocol === 'https:') {
    return https.request({ ...common, servername: isIP(target.hostname) === 0 ? target.hostname : undefined })
  }
  return http.request(common)
}

function pinnedLookup(target: PinnedTarget): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    if (hostname !== target.hostname) {
      const error = new Error(`refusing to resolve ${hostname}: only the checked host ${target.hostname} may be connected to`)
      return callback(Object.assign(error, { code: 'ENOTFOUND' }), '', 0)
    }
    // With autoSelectFamily (node 20's default) net asks for every address; otherwise for one.
    if (lookupOptions.all === true) {
      return (callback as unknown as (error: null, addresses: ResolvedAddress[]) => void)(null, [
        { address: target.address, family: target.family },
      ])
    }
    callback(null, target.address, target.family)
  }
}

const HEADERS_SET_HERE = new Set(['host', 'content-type', 'content-length', 'transfer-encoding', 'connection', 'user-agent'])

function requestHeaders(given: Readonly<Record<string, string>>, body: string): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(given)) {
    if (!HEADERS_SET_HERE.has(name.toLowerCase())) headers[name.toLowerCase()] = value
  }
  headers['content-type'] = 'application/json'
  headers['content-length'] = String(Buffer.byteLength(body))
  headers['user-agent'] = WEBHOOK_USER_AGENT
  return headers
}

/**
 * Collects at most `limit` bytes of the answer and calls `done` once: when the limit is reached,
 * the answer ends or breaks off. Returns a function that finishes early with what has arrived.
 */
function readExcerpt(response: http.IncomingMessage, limit: number, done: (excerpt: string) => void): () => void {
  const chunks: Buffer[] = []
  let size = 0
  let finished = false
  const finish = () => {
    if (finished) return
    finished = true
    done(utf8Excerpt(Buffer.concat(chunks), limit))
  }
  response.on('data', (chunk: Buffer) => {
    const kept = chunk.subarray(0, Math.max(0, limit - size))
    chunks.push(kept)
    size += kept.length
    if (size >= limit) finish()
  })
  response.on('end', finish)
  // A receiver that answers and then drops the connection has still answered.
  response.on('error', finish)
  response.on('close', finish)
  if (limit === 0) finish()
  return finish
}

/** Decodes without letting a character cut at the limit, or a replacement character, push the text past `limit` bytes. */
function utf8Excerpt(bytes: Buffer, limit: number): string {
  let text = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, limit), { stream: true })
  while (Buffer.byteLength(text) > limit) text = text.slice(0, -1)
  return text
}

function resultOfAnswer({ status, excerpt }: ReceiverAnswer): AttemptResult {
  const answered = { status, responseExcerpt: excerpt }
  if (status >= 200 && status < 300) return { outcome: 'delivered', ...answered }
  if (status >= 300 && status < 400) {
    return {
      outcome: 'failed',
      ...answered,
      error: `the receiver answered ${status} (a redirect); redirects are not followed, register the final URL instead`,
    }
  }
  return { outcome: 'failed', ...answered, error: `the receiver answered ${status}` }
}

function messageOf(error: unknown): string {
  if (error instanceof DeliveryTimeout) return error.message
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code
    return code !== undefined && !error.message.includes(code) ? `${code}: ${error.message}` : error.message
  }
  return String(error)
}

function assertValidOptions(options: DeliverWebhookOptions, timeoutMs: number, maxResponseBytes: number): void {
  if (typeof options?.url !== 'string') throw new TypeError('deliverWebhook: url must be a string')
  if (typeof options.body !== 'string') throw new TypeError('deliverWebhook: body must be the signed string')
  if (typeof options.headers !== 'object' || options.headers === null) throw new TypeError('deliverWebhook: headers must be an object')
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`deliverWebhook: timeoutMs must be positive, got ${timeoutMs}`)
  if (!Number.isInteger(maxResponseBytes) || maxResponseBytes < 0) {
    throw new RangeError(`deliverWebhook: maxResponseBytes must be a whole number of bytes, got ${maxResponseBytes}`)
  }
}
