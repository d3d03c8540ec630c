import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { createLinkSigner, memoizePermanentTokens, parseSigningKeys, type LinkClaims, type LinkSigner } from '@imageapi/link-tokens'

/** Path prefix of view links; the gateway forwards it to the links service, which serves it. */
export const VIEW_PATH = '/v/'

/**
 * How many permanent links' tokens the signer remembers (about 200 bytes each): every listing
 * signs up to three per image, the same ones on every request, and an HMAC per link was a fifth
 * of a listing's CPU. 5,000 covers the first pages of many users at about a megabyte.
 */
const REMEMBERED_PERMANENT_TOKENS = 5_000

export interface ViewLinks {
  signer: LinkSigner
  /** This deployment's public address, without a trailing slash. */
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

export function publicBaseUrl(request: FastifyRequest, configured: string | undefined): string {
  if (configured) return configured.replace(/\/+$/, '')
  return `${request.protocol}://${request.host}`
}

export default fp<{ signingKeys: string; publicUrl?: string }>(
  async (app, options) => {
    const signer = memoizePermanentTokens(createLinkSigner(parseSigningKeys(options.signingKeys)), { maxEntries: REMEMBERED_PERMANENT_TOKENS })
    // trimmed once here rather than for every link
    const configuredBaseUrl = options.publicUrl ? options.publicUrl.replace(/\/+$/, '') : undefined
    const baseUrl = (request: FastifyRequest) => configuredBaseUrl ?? publicBaseUrl(request, undefined)
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
