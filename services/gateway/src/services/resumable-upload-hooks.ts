import type { FastifyInstance } from 'fastify'
import type { PendingUpload } from '@imageapi/db'
import { resumableUploadSideKeys, stagedUploadKey } from '@imageapi/media'
import { errorBody, toErrorResponse } from '../plugins/app/errors.js'
import { RESUMABLE_UPLOADS_PATH, type ResumableUploadsOptions } from '../plugins/app/resumable-uploads.js'
import { toImageResource } from './image-resource.js'
import type { UploadLimits } from './receive-upload.js'
import { completeStagedUpload } from './staged-uploads.js'

/** The upload's id in URLs and rows; in storage it is its staged key. */
function uploadIdOf(stagedKey: string): string {
  return stagedKey.slice(stagedKey.lastIndexOf('/') + 1)
}

export const resumableExtraKeys = (upload: Pick<PendingUpload, 'object_key'>) => resumableUploadSideKeys(upload.object_key)

/**
 * What the TUS server leaves to imageapi: uploads are named by their staged key (set by the route
 * that created the row), their URLs are built from the configured public address, and the last
 * byte triggers the checks and commit of any staged upload, answering with the image JSON (or the
 * refusal, in the API's error shape).
 */
export function resumableUploadHooks(app: FastifyInstance, limits: UploadLimits): ResumableUploadsOptions['hooks'] {
  return {
    namingFunction: (tusRequest) => {
      const { key } = app.resumableUploads.contextOf(tusRequest)
      if (!key) throw new Error('a resumable upload was created without a row')
      return key
    },
    generateUrl: (tusRequest, { id }) => {
      const { request } = app.resumableUploads.contextOf(tusRequest)
      return `${app.viewLinks.baseUrl(request)}${RESUMABLE_UPLOADS_PATH}/${uploadIdOf(id)}`
    },
    getFileIdFromRequest: (_tusRequest, lastPath) => (lastPath ? stagedUploadKey(lastPath, 'resumable') : undefined),
    onUploadFinish: async (tusRequest, upload) => {
      const { request } = app.resumableUploads.contextOf(tusRequest)
      try {
        const image = await completeStagedUpload(app, request, request.account, uploadIdOf(upload.id), limits, resumableExtraKeys)
        app.uploadMetrics.uploads.inc({ outcome: 'accepted' })
        app.uploadMetrics.bytes.inc(image.bytes)
        const tier = { ...request.account.tier, thumbnail_heights: image.thumbnails.map((thumbnail) => thumbnail.height) }
        return {
          status_code: 200,
          headers: { 'content-type': 'application/json; charset=utf-8', location: `/api/images/${image.id}` },
          body: JSON.stringify(toImageResource(app, request, image, tier)),
        }
      } catch (error) {
        const body = toErrorResponse(error, request)
        throw { status_code: body.statusCode, body: JSON.stringify(body) }
      }
    },
    // TUS's own errors are plain text; clients of this API read JSON
    onResponseError: (tusRequest, error) => {
      const statusCode = 'status_code' in error ? error.status_code : 500
      const text = 'body' in error ? error.body : error.message
      if (text.startsWith('{')) return { status_code: statusCode, body: text }
      const { request } = app.resumableUploads.contextOf(tusRequest)
      if (statusCode >= 500) request.log.error({ err: error }, 'resumable upload failed')
      // a failure of storage or of the TUS store is the service's, never a bare 500
      const body = statusCode >= 500 ? errorBody(503, 'the upload could not be stored right now; resume it shortly') : errorBody(statusCode, text.trim())
      return { status_code: body.statusCode, body: JSON.stringify(body) }
    },
  }
}
