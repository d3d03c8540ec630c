import fp from 'fastify-plugin'
import type { AddressInfo } from 'node:net'
import type { FastifyRequest } from 'fastify'
import { createLinkSigner, memoizePermanentTokens, parseSigningKeys, VIEW_PATH, type LinkClaims, type LinkSigner } from '@imageapi/link-tokens'

export { VIEW_PATH }

/**
 * How many permanent links' tokens the signer remembers (about 200 bytes each): every listing
 * signs up to three per image, the same ones on every request, and an HMAC per link was a fifth
 * of a listing's CPU. 5,000 covers the first pages of many users at about a megabyte.
 */
const REMEMBERED_PERMANENT_TOKENS = 5_000

export interface ViewLinks {
  signer: LinkSigner
  /**
   * This deployment's public address, without a trailing slash: PUBLIC_URL, or the listening
   * address. The request is not read (its Host may be forged); the parameter stays for callers.
   */
  baseUrl(request: FastifyRequest): string
  /** Absolute URL of a view link, on this deployment's public address. */
  urlFor(request: FastifyRequest, claims: LinkClaims): string
  /** The same, on a public address already worked out with baseUrl (a page of links shares one). */
  urlAt(baseUrl: string, claims: LinkClaims): string
}

declare module 'fastify' {
  interface FastifyInstance {
    viewLinks: ViewLinks
  }
}

/**
 * Where answers built in process without a listening socket (`app.inject`, tests) point: the
 * address light-my-request gives every injected request. A served process always listens first.
 */
export const IN_PROCESS_BASE_URL = 'http://localhost:80'

/** `http://host:port` of a listening address; a wildcard address becomes loopback, the machine's own. */
export function listeningBaseUrl(address: AddressInfo): string {
  const host = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '[::1]' : address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `http://${host}:${address.port}`
}

/**
 * The base of every URL in an answer: PUBLIC_URL when set (always, in production), otherwise the
 * address the server actually listens on. Never anything from the request: not Host, and not
 * X-Forwarded-Host/Proto, whatever TRUST_PROXY says (a forged Host must not reach a link).
 */
export default fp<{ signingKeys: string; publicUrl?: string }>(
  async (app, options) => {
    const signer = memoizePermanentTokens(createLinkSigner(parseSigningKeys(options.signingKeys)), { maxEntries: REMEMBERED_PERMANENT_TOKENS })
    // trimmed once here rather than for every link
    const configuredBaseUrl = options.publicUrl ? options.publicUrl.replace(/\/+$/, '') : undefined
    let listeningAt: string | undefined
    const derivedBaseUrl = (): string => {
      if (listeningAt) return listeningAt
      const address = app.server.listening ? app.server.address() : null
      if (address && typeof address === 'object') return (listeningAt = listeningBaseUrl(address))
      return IN_PROCESS_BASE_URL
    }
    const baseUrl = (_request: FastifyRequest) => configuredBaseUrl ?? derivedBaseUrl()
    const urlAt = (base: string, claims: LinkClaims) => `${base}${VIEW_PATH}${signer.sign(claims)}`
    app.decorate('viewLinks', {
      signer,
      baseUrl,
      urlFor: (request, claims) => urlAt(baseUrl(request), claims),
      urlAt,
    })
  },
  { name: 'view-links' },
)
