import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { createLinkSigner, parseSigningKeys, type LinkClaims, type LinkSigner } from '@imageapi/link-tokens'

/** Path prefix of view links; the gateway forwards it to the links service, which serves it. */
export const VIEW_PATH = '/v/'

export interface ViewLinks {
  signer: LinkSigner
  /** This deployment's public address, without a trailing slash. */
  baseUrl(request: FastifyRequest): string
  /** Absolute URL of a view link, on this deployment's public address. */
  urlFor(request: FastifyRequest, claims: LinkClaims): string
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
    const signer = createLinkSigner(parseSigningKeys(options.signingKeys))
    app.decorate('viewLinks', {
      signer,
      baseUrl: (request) => publicBaseUrl(request, options.publicUrl),
      urlFor: (request, claims) => `${publicBaseUrl(request, options.publicUrl)}${VIEW_PATH}${signer.sign(claims)}`,
    })
  },
  { name: 'view-links' },
)
