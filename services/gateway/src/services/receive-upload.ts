import { randomUUID } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { FastifyRequest } from 'fastify'
import { ImageProbe, type ProbeResult } from '@imageapi/image-probe'
import { ApiError } from '../plugins/app/errors.js'

export interface UploadLimits {
  maxBytes: number
  maxPixels: number
  tmpDir: string
}

export interface ReceivedUpload {
  /** The file, checked and spooled to local disk; the caller must call `discard()` when done. */
  path: string
  image: ProbeResult
  /** Text fields of the form, by name (the last value wins). */
  fields: Record<string, string>
  discard(): Promise<void>
}

/**
 * Reads a multipart upload whose file field is `fileField`. The file is streamed through the
 * probe (magic bytes, header dimensions, byte and pixel limits, truncation) to a temporary file,
 * never held whole in memory; storage sees it only once it has passed, so a rejected upload
 * leaves nothing behind. (Spooling also gives the object a known size: S3 servers without
 * multipart support need one.)
 */
export async function receiveUpload(request: FastifyRequest, limits: UploadLimits, fileField = 'image'): Promise<ReceivedUpload | { fields: Record<string, string>; path?: undefined }> {
  const fields: Record<string, string> = {}
  const path = join(limits.tmpDir, `upload-${randomUUID()}`)
  const discard = () => rm(path, { force: true })
  let image: ProbeResult | undefined
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== fileField || image) {
          // drain what we do not want so the rest of the form can be read
          part.file.resume()
          await new Promise((resolve) => part.file.once('end', resolve))
          if (part.fieldname === fileField) throw new ApiError(400, `send one file in the field "${fileField}"`, fileField)
          continue
        }
        const probe = new ImageProbe({ maxBytes: limits.maxBytes, maxPixels: limits.maxPixels })
        await pipeline(part.file, probe, createWriteStream(path))
        // busboy stops at its own size limit by truncating; the probe counts too, but be explicit
        if (part.file.truncated) throw new ApiError(413, `image exceeds the ${limits.maxBytes}-byte limit`, fileField)
        image = await probe.done
      } else {
        if (part.fieldname === fileField) throw new ApiError(400, `"${fileField}" must be a file, sent with multipart/form-data`, fileField)
        fields[part.fieldname] = typeof part.value === 'string' ? part.value : String(part.value)
      }
    }
  } catch (error) {
    await discard()
    throw error
  }
  if (!image) return { fields }
  return { path, image, fields, discard }
}
