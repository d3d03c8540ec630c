import { randomUUID } from 'node:crypto'
import { buffer } from 'node:stream/consumers'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ImageWithThumbnails, PendingUpload, UserWithTier } from '@imageapi/db'
import { DEFAULT_MAX_HEADER_BYTES, ImageInspector, ImageRejectedError, type ProbeResult } from '@imageapi/image-probe'
import { contentTypeOf, originalKey, sourceFormatOfContentType, stagedUploadKey } from '@imageapi/media'
import { ApiError } from '../plugins/app/errors.js'
import type { CreateDirectUploadBody, DirectUploadResource } from '../schemas/uploads.js'
import { validateTitle } from '../schemas/titles.js'
import { removeStoredObject, type UploadLimits } from './receive-upload.js'

/**
 * Uploads whose bytes go straight to storage: the gateway hands out where to write (a presigned
 * PUT, or a TUS upload it relays), then checks what arrived exactly as it checks a streamed upload
 * before the file becomes an image. The client writes only under `uploads/`, and a completed file
 * is copied to its image's own key: what was checked is what stays, whatever the client writes
 * to the staged key afterwards.
 */
export interface StagedUploadSettings extends UploadLimits {
  /** How long the presigned PUT works (at most 15 minutes). */
  urlSeconds: number
  /** Uploads a user may have pending at once. */
  maxPendingPerUser: number
}

/** After its URL expires, a direct upload can still be completed this long (a PUT begun just before may still be arriving). */
export const COMPLETE_GRACE_SECONDS = 15 * 60
/** The last bytes read to check a file's end marker (PNG's IEND is 12). */
const TAIL_BYTES = 64

/** Inserts the upload row, or refuses when its owner has too many pending. */
export async function registerPendingUpload(
  app: FastifyInstance,
  upload: Parameters<FastifyInstance['repos']['pendingUploads']['create']>[0],
  maxPendingPerUser: number,
): Promise<void> {
  if (!(await app.repos.pendingUploads.create(upload, maxPendingPerUser))) {
    throw new ApiError(429, `you have ${maxPendingPerUser} uploads pending, the most allowed: complete them or let them expire first`)
  }
}

export async function createDirectUpload(
  app: FastifyInstance,
  request: FastifyRequest,
  owner: UserWithTier,
  body: CreateDirectUploadBody,
  settings: StagedUploadSettings,
): Promise<DirectUploadResource> {
  const title = validateTitle(body.title)
  if (body.bytes > settings.maxBytes) throw new ApiError(413, `the file may be at most ${settings.maxBytes} bytes; ${body.bytes} were declared`, 'bytes')
  const format = sourceFormatOfContentType(body.content_type)!
  const id = randomUUID()
  const objectKey = stagedUploadKey(id, 'direct')
  const now = app.clock()
  const urlExpiresAt = new Date(now + settings.urlSeconds * 1000)
  await registerPendingUpload(
    app,
    { id, ownerId: owner.id, kind: 'direct', title, format, bytes: body.bytes, objectKey, expiresAt: new Date(urlExpiresAt.getTime() + COMPLETE_GRACE_SECONDS * 1000) },
    settings.maxPendingPerUser,
  )
  const headers = { 'content-type': contentTypeOf(format), 'content-length': String(body.bytes) }
  const url = await app.storage.presignedPutUrl(objectKey, settings.urlSeconds, { contentType: headers['content-type'], contentLength: body.bytes })
  return {
    id,
    upload: { method: 'PUT', url, headers },
    complete_url: `${app.viewLinks.baseUrl(request)}/api/uploads/${id}/complete`,
    expires_at: urlExpiresAt.toISOString(),
  }
}

/** Most headers end in the first few KiB (a PNG's in 33 bytes); a JPEG's may end as late as DEFAULT_MAX_HEADER_BYTES. */
const FIRST_READ_BYTES = 64 * 1024

/**
 * Checks a stored object from ranged reads of its start (64 KiB, more only while the header is
 * still unread) and of its last bytes, as the stream probe checks a whole upload.
 */
async function probeStoredObject(app: FastifyInstance, key: string, size: number, limits: UploadLimits): Promise<ProbeResult> {
  if (size > limits.maxBytes) throw new ImageRejectedError('too_large', `image exceeds the ${limits.maxBytes}-byte limit`)
  if (size === 0) throw new ImageRejectedError('empty', 'the file is empty')
  const read = async (start: number, end: number) => buffer(await app.storage.getObject(key, { start, end }))
  const inspector = new ImageInspector(limits)
  let headRead = 0
  for (const upTo of [FIRST_READ_BYTES, DEFAULT_MAX_HEADER_BYTES]) {
    const end = Math.min(size, upTo)
    if (end > headRead) inspector.push(await read(headRead, end - 1))
    headRead = Math.max(headRead, end)
    if (inspector.header || headRead === size) break
  }
  const tail = headRead === size ? Buffer.alloc(0) : await read(Math.max(headRead, size - TAIL_BYTES), size - 1)
  return inspector.finishWithTail(tail, size)
}

/**
 * Checks the staged file and copies it to its original's key; returns what it is. The copy is made
 * first and checked (direct uploads: the client may still write the staged key, and the copy is the
 * one version that stays); a TUS upload's staged object is written only by the gateway, so it is
 * checked in place and copied after, once its format (and so its key) is known.
 */
async function stageToOriginal(app: FastifyInstance, upload: PendingUpload, limits: UploadLimits): Promise<{ key: string; image: ProbeResult }> {
  const staged = await app.storage.statObject(upload.object_key)
  if (!staged) throw new ApiError(409, 'no file has arrived for this upload yet: send it to the upload URL, then complete')
  if (upload.kind === 'direct') {
    const key = originalKey(upload.id, upload.format!)
    await app.storage.copyObject(upload.object_key, key)
    const copied = await app.storage.statObject(key)
    if (!copied) throw new ApiError(409, 'the file was removed while it was being checked')
    try {
      const image = await probeStoredObject(app, key, copied.size, limits)
      if (image.format !== upload.format) {
        throw new ImageRejectedError('unsupported_format', `the file is a ${image.format.toUpperCase()}, but the upload was declared ${contentTypeOf(upload.format!)}`)
      }
      return { key, image }
    } catch (error) {
      await app.storage.removeObjects([key])
      throw error
    }
  }
  const image = await probeStoredObject(app, upload.object_key, staged.size, limits)
  const key = originalKey(upload.id, image.format)
  await app.storage.copyObject(upload.object_key, key)
  return { key, image }
}

/**
 * Makes a pending upload an image: the same checks as a streamed upload, then the image, its owed
 * thumbnails and its job in one step (the rows in one transaction). A refused file ends the upload
 * and leaves nothing behind. `extraKeys` are the upload's other staged objects (TUS's metadata).
 */
export async function completeStagedUpload(
  app: FastifyInstance,
  request: FastifyRequest,
  owner: UserWithTier,
  uploadId: string,
  limits: UploadLimits,
  extraKeys: (upload: PendingUpload) => string[] = () => [],
): Promise<ImageWithThumbnails> {
  const upload = await app.repos.pendingUploads.findByOwner(uploadId, owner.id)
  const now = new Date(app.clock())
  if (!upload) {
    if (await app.repos.images.findByOwner(uploadId, owner.id)) throw new ApiError(409, `upload ${uploadId} was already completed: it is image ${uploadId}`)
    throw new ApiError(404, `no pending upload ${uploadId}`)
  }
  if (upload.expires_at <= now) {
    await endUpload(app, request, upload, extraKeys(upload))
    throw new ApiError(410, `upload ${uploadId} expired at ${upload.expires_at.toISOString()}; start a new one`)
  }
  let stored: { key: string; image: ProbeResult }
  try {
    stored = await stageToOriginal(app, upload, limits)
  } catch (error) {
    if (error instanceof ImageRejectedError) await endUpload(app, request, upload, extraKeys(upload))
    throw error
  }
  const { image } = stored
  const result = await app.repos.pendingUploads.complete(
    upload.id,
    owner.id,
    { title: upload.title, format: image.format, width: image.displayWidth, height: image.displayHeight, bytes: image.bytes, original_key: stored.key },
    now,
  )
  if (result.outcome !== 'completed') {
    if (result.outcome === 'already_completed') throw new ApiError(409, `upload ${uploadId} was already completed: it is image ${uploadId}`)
    await removeStoredObject(app, request, stored.key)
    throw new ApiError(410, `upload ${uploadId} expired while it was being completed; start a new one`)
  }
  for (const key of [upload.object_key, ...extraKeys(upload)]) await removeStoredObject(app, request, key)
  if (result.image.thumbnails.length > 0) await app.requestThumbnails({ imageId: upload.id, requestId: request.id })
  return result.image
}

/**
 * Ends an upload that will not become an image: an unfinished multipart upload of a resumable one
 * (storage keeps its parts, which no key names), then its row and its staged objects (left in the
 * outbox if storage fails now).
 */
export async function endUpload(app: FastifyInstance, request: FastifyRequest, upload: PendingUpload, extraKeys: string[] = []): Promise<void> {
  const keys = [upload.object_key, ...extraKeys]
  if (upload.kind === 'resumable') await app.storage.abortIncompleteUploads(upload.object_key)
  await app.repos.pendingUploads.discard(upload.id, upload.owner_id, keys)
  try {
    await app.storage.removeObjects(keys)
    await app.repos.objectDeletions.confirm(keys)
  } catch (error) {
    request.log.warn({ err: error, keys }, 'staged upload objects left for the reconciler')
  }
}
