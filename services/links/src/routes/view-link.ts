import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { ObjectStorage } from '@imageapi/storage'
import { BoundCounter, VIEW_REUSABLE_MS_HEADER } from '@imageapi/http-service'
import { LruCache } from '@imageapi/lru-cache'
import { VIEW_PATH, type LinkClaims } from '@imageapi/link-tokens'
import { rankFormats, type RenditionFormat, type ServedFormat } from '@imageapi/media'
import { checkRights, type RightsOutcome, type ServableObject, type ServableRights } from '../services/resolve-view-link.js'
import { createTokenChecker } from '../services/verified-tokens.js'
import { parseRange } from '../services/byte-range.js'

// Bodies as the API we replace sends them for its view links.
export const LINK_EXPIRED = { error: ['Sorry, the link is expired'] }
export const LINK_REVOKED = { error: ['Sorry, the link was revoked'] }
export const LINK_NOT_FOUND = { detail: 'Not found.' }

/** The status of a link that no longer opens: 410 Gone on ours; 403 on the compat paths, as the API we replace answers. */
interface DeadLinkStatus {
  expired: number
  revoked: number
  /** Whether a thumbnail link answers by Accept: ours do; the compat paths serve what their clients know, the source format. */
  negotiate: boolean
}
const NATIVE_DEAD_LINK: DeadLinkStatus = { expired: 410, revoked: 410, negotiate: true }
const COMPAT_DEAD_LINK: DeadLinkStatus = { expired: 403, revoked: 403, negotiate: false }

// an original's link is re-checked against the owner's tier at least this often by caches
const ORIGINAL_MAX_AGE = 300

export interface ViewLinkOptions {
  rightsCacheMs: number
  /** Cache lifetime of a permanent thumbnail link (immutable content at a fixed URL). */
  thumbnailMaxAgeSeconds: number
  bodyCacheBytes: number
  bodyCacheMaxObjectBytes: number
  redirect?: { storage: ObjectStorage; maxSeconds: number }
  /** How many verified tokens are remembered (see createTokenChecker). */
  verifiedTokenEntries?: number
}

/** What depends only on one representation of a rights check, built once: response headers, the body's cache key. */
interface PreparedRepresentation {
  object: ServableObject
  fixedHeaders: Record<string, string>
  /** Set when the file is small enough to be kept in memory. */
  bodyCacheKey?: string
}

/** A rights check as it was made, with each representation it allows prepared. */
interface CheckedRights {
  outcome: RightsOutcome
  checkedAtMs: number
  /** The source-format file (or the one pinned format, or the original). */
  fallback?: PreparedRepresentation
  renditions?: Map<RenditionFormat, PreparedRepresentation>
}

interface LoadedBody {
  body: Buffer | NodeJS.ReadableStream
  length: number
}

const WHOLE = { kind: 'whole' } as const

function sliceOf(body: Buffer, range?: { start: number; end: number }): LoadedBody {
  const slice = range ? body.subarray(range.start, range.end + 1) : body
  return { body: slice, length: slice.length }
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false
  return header.split(',').some((candidate) => {
    const value = candidate.trim()
    return value === '*' || value === etag || value === `W/${etag}`
  })
}

const OUTCOMES = ['bad_token', 'expired', 'not_found', 'revoked', 'redirected', 'not_modified', 'unsatisfiable_range', 'served', 'served_partial'] as const

const viewLink: FastifyPluginAsync<ViewLinkOptions> = async (app, options) => {
  const linkRequests = new BoundCounter<'outcome'>('imageapi_link_requests_total', 'View-link requests by outcome', [app.metrics])
  const outcomes = Object.fromEntries(OUTCOMES.map((outcome) => [outcome, linkRequests.bind({ outcome })])) as Record<(typeof OUTCOMES)[number], { inc(): void }>

  const checkToken = createTokenChecker(app.linkSigner, options.verifiedTokenEntries ?? 100_000)
  // Rights checks are reused for a bounded few seconds (the documented revocation bound);
  // expiry and signature are still checked on every request, from the token.
  const rightsCache = new LruCache<string, CheckedRights>({ maxEntries: 50_000, ttlMs: options.rightsCacheMs, now: () => app.clock() })
  // Bodies of small files, keyed by object and validator: a given (key, etag) never changes.
  const bodyCache = new LruCache<string, Buffer>({ maxEntries: 100_000, maxWeight: options.bodyCacheBytes, weigh: (b) => b.length })

  function fixedHeadersFor(outcome: ServableObject, permanent: boolean): Record<string, string> {
    return {
      'content-type': outcome.contentType,
      etag: outcome.etag,
      'content-disposition': `inline; filename="${outcome.filename}"`,
      'accept-ranges': 'bytes',
      'x-content-type-options': 'nosniff',
      ...(permanent
        ? { 'cache-control': outcome.variant === 'original' ? `public, max-age=${ORIGINAL_MAX_AGE}` : `public, max-age=${options.thumbnailMaxAgeSeconds}, immutable` }
        : {}),
    }
  }

  function prepare(object: ServableObject, permanent: boolean): PreparedRepresentation {
    const prepared: PreparedRepresentation = { object, fixedHeaders: fixedHeadersFor(object, permanent) }
    if (object.bytes <= options.bodyCacheMaxObjectBytes && options.bodyCacheBytes > 0) prepared.bodyCacheKey = `${object.objectKey}\u0000${object.etag}`
    return prepared
  }

  async function checkRightsNow(token: string, claims: LinkClaims, nowMs: number): Promise<CheckedRights> {
    const outcome = await checkRights(app.repos, claims)
    const checked: CheckedRights = { outcome, checkedAtMs: nowMs }
    if (outcome.kind === 'serve') {
      const permanent = claims.expiresAt === undefined
      checked.fallback = prepare(outcome.fallback, permanent)
      checked.renditions = new Map([...outcome.renditions].map(([format, object]) => [format, prepare(object, permanent)]))
    }
    if (options.rightsCacheMs > 0) rightsCache.set(token, checked)
    return checked
  }

  // Accept headers repeat (one per browser version): their ranking is remembered rather than parsed per view
  const rankings = new LruCache<string, ServedFormat[]>({ maxEntries: 1_000 })
  function representationFor(rights: CheckedRights, outcome: ServableRights, accept: string | undefined, negotiate: boolean): PreparedRepresentation {
    const fallback = rights.fallback!
    if (!negotiate || !outcome.negotiable || rights.renditions!.size === 0) return fallback
    const key = `${outcome.source}\u0000${accept ?? ''}`
    let ranking = rankings.get(key)
    if (!ranking) rankings.set(key, (ranking = rankFormats(accept, outcome.source)))
    for (const format of ranking) {
      if (format === outcome.source) return fallback
      const rendition = rights.renditions!.get(format as RenditionFormat)
      if (rendition) return rendition
    }
    return fallback
  }

  /**
   * Fetched before any header is set, so a missing object still gets a clean JSON 404. The length
   * comes from the bytes actually sent (the buffer, or storage's own answer), never from a cached
   * row: an object re-rendered within the rights-cache window must not break the response.
   */
  async function loadBody(object: ServableObject, bodyCacheKey: string | undefined, range?: { start: number; end: number }): Promise<LoadedBody> {
    if (bodyCacheKey !== undefined) {
      const body = await app.storage.getObjectBuffer(object.objectKey)
      bodyCache.set(bodyCacheKey, body)
      return sliceOf(body, range)
    }
    return app.storage.openObject(object.objectKey, range)
  }

  /**
   * Answers a view link. A hot link (token verified before, rights checked within the window, body
   * in memory) is answered synchronously: no promise, no await, on the path every view takes.
   */
  function serve(request: FastifyRequest<{ Params: { token: string } }>, reply: FastifyReply, dead: DeadLinkStatus): FastifyReply | Promise<FastifyReply> {
    // a dead link's answer is not stored (no-store) but says it could have varied, like the live answer it replaces
    if (dead.negotiate) reply.header('vary', 'Accept')
    const nowMs = app.clock()
    const tokenText = request.params.token
    const token = checkToken(tokenText, Math.floor(nowMs / 1000))
    if (token.kind === 'not_found') {
      outcomes.bad_token.inc()
      return reply.code(404).header('cache-control', 'no-store').send(LINK_NOT_FOUND)
    }
    if (token.kind === 'expired') {
      outcomes.expired.inc()
      return reply.code(dead.expired).header('cache-control', 'no-store').send(LINK_EXPIRED)
    }
    const cached = options.rightsCacheMs > 0 ? rightsCache.get(tokenText) : undefined
    if (cached) return answer(request, reply, dead, token.claims, cached, nowMs)
    return checkRightsNow(tokenText, token.claims, nowMs).then((rights) => answer(request, reply, dead, token.claims, rights, nowMs))
  }

  function answer(request: FastifyRequest, reply: FastifyReply, dead: DeadLinkStatus, claims: LinkClaims, rights: CheckedRights, nowMs: number): FastifyReply | Promise<FastifyReply> {
    const outcome = rights.outcome
    if (outcome.kind === 'not_found') {
      outcomes.not_found.inc()
      return reply.code(404).header('cache-control', 'no-store').send(LINK_NOT_FOUND)
    }
    if (outcome.kind === 'revoked') {
      outcomes.revoked.inc()
      return reply.code(dead.revoked).header('cache-control', 'no-store').send(LINK_REVOKED)
    }

    const expiresAt = claims.expiresAt
    // rounded down from the exact time left, so no cache keeps it a fraction of a second too long
    const secondsLeft = expiresAt === undefined ? undefined : Math.max(0, Math.floor((expiresAt * 1000 - nowMs) / 1000))
    const representation = representationFor(rights, outcome, request.headers.accept, dead.negotiate)
    const object = representation.object
    // every answer of a negotiable link, the source-format fallback and 304s too: a shared cache must
    // not pin one format for every client. Originals and pinned links have one representation.
    if (!dead.negotiate || !outcome.negotiable) reply.removeHeader('vary')

    if (options.redirect) return redirect(reply, dead, representation, secondsLeft, options.redirect)

    const notModified = etagMatches(request.headers['if-none-match'], object.etag)
    const ifRange = request.headers['if-range']
    const range = notModified || (ifRange !== undefined && ifRange !== object.etag) ? WHOLE : parseRange(request.headers.range, object.bytes)
    if (range.kind === 'unsatisfiable') {
      outcomes.unsatisfiable_range.inc()
      return reply.code(416).header('content-range', `bytes */${object.bytes}`).send({ error: ['The requested range is not satisfiable'] })
    }
    // set only once the answer is certain: a missing object still gets a clean JSON 404 from the error handler
    const setFileHeaders = () => {
      reply.headers(representation.fixedHeaders)
      if (expiresAt !== undefined) reply.header('cache-control', `private, max-age=${secondsLeft}`).header('expires', new Date(expiresAt * 1000).toUTCString())
    }
    if (notModified) {
      outcomes.not_modified.inc()
      setFileHeaders()
      return reply.code(304).send()
    }
    const partial = range.kind === 'partial' ? { start: range.start, end: range.end } : undefined
    const send = (loaded: LoadedBody | undefined): FastifyReply => {
      setFileHeaders()
      reply.code(partial ? 206 : 200)
      if (partial) reply.header('content-range', `bytes ${partial.start}-${partial.start + (loaded?.length ?? partial.end - partial.start + 1) - 1}/${object.bytes}`)
      reply.header('content-length', loaded?.length ?? (partial ? partial.end - partial.start + 1 : object.bytes))
      if (!partial && Buffer.isBuffer(loaded?.body) && options.rightsCacheMs > 0) {
        // this exact answer holds until the rights check is due again, or the link expires
        const reusableMs = Math.min(rights.checkedAtMs + options.rightsCacheMs - nowMs, expiresAt === undefined ? Infinity : expiresAt * 1000 - nowMs)
        if (reusableMs > 0) reply.header(VIEW_REUSABLE_MS_HEADER, String(reusableMs))
      }
      ;(partial ? outcomes.served_partial : outcomes.served).inc()
      return reply.send(loaded?.body)
    }
    if (request.method === 'HEAD') return send(undefined)
    const inMemory = representation.bodyCacheKey === undefined ? undefined : bodyCache.get(representation.bodyCacheKey)
    if (inMemory) return send(sliceOf(inMemory, partial))
    return loadBody(object, representation.bodyCacheKey, partial).then(send)
  }

  async function redirect(reply: FastifyReply, dead: DeadLinkStatus, representation: PreparedRepresentation, secondsLeft: number | undefined, target: NonNullable<ViewLinkOptions['redirect']>): Promise<FastifyReply> {
    const outcome = representation.object
    const lifetime = Math.min(target.maxSeconds, secondsLeft ?? target.maxSeconds)
    if (lifetime < 1) {
      outcomes.expired.inc()
      return reply.code(dead.expired).header('cache-control', 'no-store').send(LINK_EXPIRED)
    }
    const location = await target.storage.presignedGetUrl(outcome.objectKey, lifetime, {
      contentType: outcome.contentType,
      contentDisposition: representation.fixedHeaders['content-disposition']!,
      cacheControl: `private, max-age=${lifetime}`,
    })
    outcomes.redirected.inc()
    // the redirect itself must not be reused past the presigned URL's own lifetime
    return reply.code(302).header('location', location).header('cache-control', 'no-store').send()
  }

  // GET and HEAD on one route: fastify's automatic HEAD route would reset Content-Length to 0
  app.route<{ Params: { token: string } }>({ method: ['GET', 'HEAD'], url: `${VIEW_PATH}:token`, handler: (request, reply) => serve(request, reply, NATIVE_DEAD_LINK) })
  // The links of the compat list (/api/view/{token}/): the same tokens and checks, with that API's status for a dead link.
  for (const url of ['/api/view/:token', '/api/view/:token/']) {
    app.route<{ Params: { token: string } }>({ method: ['GET', 'HEAD'], url, handler: (request, reply) => serve(request, reply, COMPAT_DEAD_LINK) })
  }
}

export default viewLink
