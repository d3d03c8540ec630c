import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Link } from '@imageapi/db'
import { ApiError } from '../plugins/app/errors.js'
import type { ExpiringLinkResource } from '../routes/schemas.js'

export const EXPIRING_LINK_SECONDS = { min: 300, max: 30_000 } as const

/** "original", or a thumbnail height given as a number or a numeric string. */
export function parseVariant(value: unknown): 'original' | number {
  if (value === 'original') return 'original'
  const height = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(height) || height < 1 || height > 65_535) throw new ApiError(400, 'variant must be "original" or a thumbnail height', 'variant')
  return height
}

/** The same row always signs to the same URL, so a listed link equals the one handed out. */
export function toExpiringLinkResource(app: FastifyInstance, request: FastifyRequest, link: Link): ExpiringLinkResource {
  const variant = link.variant === 'original' ? 'original' : Number(link.variant)
  return {
    id: link.id,
    url: app.viewLinks.urlFor(request, {
      imageId: link.image_id,
      variant,
      expiresAt: Math.floor(link.expires_at.getTime() / 1000),
      linkId: link.id,
      ...(link.format ? { format: link.format } : {}),
    }),
    variant,
    format: link.format,
    expires_at: link.expires_at.toISOString(),
    created_at: link.created_at.toISOString(),
  }
}
