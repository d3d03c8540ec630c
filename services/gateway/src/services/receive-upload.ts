import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import type { Readable } from 'node:stream'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ImageProbe, ImageRejectedError, type ProbeResult } from '@imageapi/image-probe'
import { ApiError } from '../plugins/app/errors.js'
import { contentTypeOf, originalKey } from '@imageapi/media'

export interface UploadLimits {
  maxBytes: number
  maxPixels: number
}

/** An upload's file, checked and stored under its image's key, not yet an image (no row, no job). */
export interface StoredOriginal {
  imageId: string
  key: string
  image: ProbeResult
  /** Set once the image's rows are written: from then on the object belongs to the image. */
  committed: boolean
  /** Removes the object unless it became an image; every path that ends an upload calls it. */
  discard(): Promise<void>
}

/** What was wrong with the file field of a form. */
export type FileProblem =
  /** The file failed the probe: not a PNG or JPEG, corrupt, empty or over a limit. */
  | { kind: 'rejected'; error: ImageRejectedError; filename: string }
  /** The file field came as a text field. */
  | { kind: 'not_a_file' }
  /** A second file in the file field. */
  | { kind: 'second_file' }

export interface ReceivedForm {
  /** Text fields of the form, by name (the last value wins). */
  fields: Record<string, string>
  /** The checked and stored file; the caller must `discard()` it when done. */
  file?: StoredOriginal
  /** The first problem of the file field, when there was one; the file is then absent. */
  problem?: FileProblem
}

function problemError(problem: FileProblem, fileField: string): Error {
  if (problem.kind === 'rejected') return problem.error
  if (problem.kind === 'not_a_file') return new ApiError(400, `"${fileField}" must be a file, sent with multipart/form-data`, fileField)
  return new ApiError(400, `send one file in the field "${fileField}"`, fileField)
}

async function drain(file: Readable): Promise<void> {
  if (file.readableEnded || file.destroyed) return
  const ended = once(file, 'end')
  file.resume()
  await ended
}

/** Removes an object that must not stay; when storage cannot be reached the outbox keeps the key, and the worker's reconciler removes it later. */
export async function removeStoredObject(app: FastifyInstance, request: FastifyRequest, key: string): Promise<void> {
  await app.storage.removeObjects([key]).catch(async () => {
    await app.repos.objectDeletions.record([key]).catch(() => request.log.error({ key }, 'object left behind'))
  })
}

/**
 * Streams one file part through the probe straight into storage. Storage holds at most a part of
 * it at a time; a part goes out only once the probe has passed the bytes in it (magic bytes,
 * header dimensions, pixel limit, byte count), and a rejection on the way aborts the upload, so a
 * refused file leaves no object and no part. The part is piped rather than put in a pipeline, so a
 * rejection leaves it intact: the caller may drain it and read the rest of the form.
 */
async function probeIntoStorage(
  app: FastifyInstance,
  file: Readable & { truncated?: boolean },
  limits: UploadLimits,
  sizeHint: number | undefined,
): Promise<{ imageId: string; key: string; image: ProbeResult }> {
  const imageId = randomUUID()
  const probe = new ImageProbe({ maxBytes: limits.maxBytes, maxPixels: limits.maxPixels })
  const target = () => {
    // a JPEG's frame header must end within the first 256 KiB, far inside the first part
    const header = probe.header
    if (!header) throw new Error('the image header was not read before the first part was stored')
    return { key: originalKey(imageId, header.format), contentType: contentTypeOf(header.format) }
  }
  file.once('error', (error) => probe.destroy(error))
  file.pipe(probe)
  let stored: { key: string; size: number }
  try {
    stored = await app.storage.putStream(probe, target, sizeHint === undefined ? {} : { sizeHint })
  } catch (error) {
    file.unpipe(probe)
    throw error
  }
  const image = await probe.done
  // busboy stops at its own size limit by truncating; the probe counts too, but be explicit
  if (file.truncated || stored.size !== image.bytes) {
    await app.storage.removeObjects([stored.key])
    throw new ApiError(413, `image exceeds the ${limits.maxBytes}-byte limit`)
  }
  return { imageId, key: stored.key, image }
}

/** The request's declared body size: an upper bound of the file's, so a small file borrows only that much memory. */
function declaredBodySize(request: FastifyRequest, maxBytes: number): number | undefined {
  const declared = Number(request.headers['content-length'])
  return Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, maxBytes) : undefined
}

/**
 * Reads a multipart form whose file field is `fileField`. The file is streamed through the probe
 * into storage (see probeIntoStorage), never held whole in memory. Each problem with the file field
 * goes to `onProblem`, which may throw to stop reading there, or return to have the rest of the form
 * read. If reading fails after the file was stored, the object is removed before the error goes on.
 */
async function readForm(
  app: FastifyInstance,
  request: FastifyRequest,
  limits: UploadLimits,
  fileField: string,
  onProblem: (problem: FileProblem) => void,
): Promise<ReceivedForm> {
  const fields: Record<string, string> = {}
  let stored: StoredOriginal | undefined
  let problem: FileProblem | undefined
  const report = (found: FileProblem) => {
    problem ??= found
    onProblem(found)
  }
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== fileField || stored || problem) {
          // drain what we do not want so the rest of the form can be read
          await drain(part.file)
          if (part.fieldname === fileField && stored) report({ kind: 'second_file' })
          continue
        }
        try {
          const { imageId, key, image } = await probeIntoStorage(app, part.file, limits, declaredBodySize(request, limits.maxBytes))
          const original: StoredOriginal = {
            imageId,
            key,
            image,
            committed: false,
            discard: async () => {
              if (!original.committed) await removeStoredObject(app, request, key)
            },
          }
          stored = original
        } catch (error) {
          if (!(error instanceof ImageRejectedError)) throw error
          report({ kind: 'rejected', error, filename: part.filename })
          await drain(part.file)
        }
      } else {
        if (part.fieldname === fileField) {
          report({ kind: 'not_a_file' })
          continue
        }
        fields[part.fieldname] = typeof part.value === 'string' ? part.value : String(part.value)
      }
    }
  } catch (error) {
    await stored?.discard()
    throw error
  }
  if (!stored) return { fields, ...(problem ? { problem } : {}) }
  return { fields, file: stored }
}

/** A multipart upload; the first problem with the file stops reading and is thrown. */
export async function receiveUpload(app: FastifyInstance, request: FastifyRequest, limits: UploadLimits, fileField = 'image'): Promise<Omit<ReceivedForm, 'problem'>> {
  return readForm(app, request, limits, fileField, (problem) => {
    throw problemError(problem, fileField)
  })
}

/** A whole multipart form, read past a bad file, so that every field's problem can be reported at once. */
export function receiveForm(app: FastifyInstance, request: FastifyRequest, limits: UploadLimits, fileField = 'image'): Promise<ReceivedForm> {
  return readForm(app, request, limits, fileField, () => {})
}
