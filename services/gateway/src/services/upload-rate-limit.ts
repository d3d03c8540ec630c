import type { FastifyInstance } from 'fastify'

/** The upload budget per user and per address (UPLOAD_RATE_LIMIT_PER_USER / _PER_IP). */
export interface UploadRateLimits {
  perUserPerWindow: number
  perIpPerWindow: number
}

/**
 * The one upload budget every way of uploading spends (streamed, direct, resumable, compat): an
 * upload is an upload, however its bytes travel. Runs after `app.authenticate`.
 */
export function uploadRateLimited(app: FastifyInstance, limits: UploadRateLimits) {
  return app.rateLimited(
    { name: 'upload-user', limit: limits.perUserPerWindow, key: (request) => request.account?.id },
    { name: 'upload-ip', limit: limits.perIpPerWindow, key: (request) => request.ip },
  )
}
