import { randomUUID } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { once } from 'node:events'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { FastifyRequest } from 'fastify'
import { ImageProbe, ImageRejectedError, type ProbeResult } from '@imageapi/image-probe'
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

/** What was wrong with the file field of a form. */
export type FileProblem =
  /** The file failed the probe: not a PNG or JPEG, corrupt, empty or over a limit. */
  | { kind: 'rejected'; error: ImageRejectedError; filename: string }
  /** The file field came as a text field. */
  | { kind: 'not_a_file' }
  /** A second file in the file field. */
  | { kind: 'second_file' }

export interface ReceivedForm {
  fields: Record<string, string>
  /** The checked file, spooled to disk; the caller must call `discard()` when done. */
  file?: Omit<ReceivedUpload, 'fields'>
  /** The first problem of the file field, when there was one; the file is then absent. */
  problem?: FileProblem
}

function problemError(problem: FileProblem, fileField: string): Error {
  if (problem.kind === 'rejected') return problem.error
  if (problem.kind === 'not_a_file') return new ApiError(400, `"${fileField}" must be a file, sent with multipart/form-data`, fileField)
  return new ApiError(400, `send one file in the field "${fileField}"`, fileField)
}

async function drain(file: Readable): Promise<void> {
  if (file.readableEnded) return
  const ended = once(file, 'end')
  file.resume()
  await ended
}

/**
 * Streams one file part through the probe to `path`. The part is piped rather than put in a
 * pipeline, so a rejection leaves it intact: the caller may drain it and read the rest of the form.
 */
async function probeToDisk(file: Readable & { truncated?: boolean }, probe: ImageProbe, path: string, fileField: string, maxBytes: number): Promise<ProbeResult> {
  const written = pipeline(probe, createWriteStream(path))
  file.once('error', (error) => probe.destroy(error))
  file.pipe(probe)
  try {
    await written
  } catch (error) {
    file.unpipe(probe)
    throw error
  }
  // busboy stops at its own size limit by truncating; the probe counts too, but be explicit
  if (file.truncated) throw new ApiError(413, `image exceeds the ${maxBytes}-byte limit`, fileField)
  return probe.done
}

/**
 * Reads a multipart form whose file field is `fileField`. The file is streamed through the probe
 * (magic bytes, header dimensions, byte and pixel limits, truncation) to a temporary file, never
 * held whole in memory; storage sees it only once it has passed, so a rejected upload leaves
 * nothing behind. (Spooling also gives the object a known size: S3 servers without multipart
 * support need one.) Each problem with the file field goes to `onProblem`, which may throw to stop
 * reading there, or return to have the rest of the form read.
 */
async function readForm(request: FastifyRequest, limits: UploadLimits, fileField: string, onProblem: (problem: FileProblem) => void): Promise<ReceivedForm> {
  const fields: Record<string, string> = {}
  const path = join(limits.tmpDir, `upload-${randomUUID()}`)
  const discard = () => rm(path, { force: true })
  let image: ProbeResult | undefined
  let problem: FileProblem | undefined
  const report = (found: FileProblem) => {
    problem ??= found
    onProblem(found)
  }
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== fileField || image || problem) {
          // drain what we do not want so the rest of the form can be read
          await drain(part.file)
          if (part.fieldname === fileField && image) report({ kind: 'second_file' })
          continue
        }
        const probe = new ImageProbe({ maxBytes: limits.maxBytes, maxPixels: limits.maxPixels })
        try {
          image = await probeToDisk(part.file, probe, path, fileField, limits.maxBytes)
        } catch (error) {
          if (!(error instanceof ImageRejectedError)) throw error
          await discard()
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
    await discard()
    throw error
  }
  if (!image) return { fields, ...(problem ? { problem } : {}) }
  return { fields, file: { path, image, discard } }
}

/** A multipart upload; the first problem with the file stops reading and is thrown. */
export async function receiveUpload(request: FastifyRequest, limits: UploadLimits, fileField = 'image'): Promise<ReceivedUpload | { fields: Record<string, string>; path?: undefined }> {
  const form = await readForm(request, limits, fileField, (problem) => {
    throw problemError(problem, fileField)
  })
  return form.file ? { ...form.file, fields: form.fields } : { fields: form.fields }
}

/** A whole multipart form, read past a bad file, so that every field's problem can be reported at once. */
export function receiveForm(request: FastifyRequest, limits: UploadLimits, fileField = 'image'): Promise<ReceivedForm> {
  return readForm(request, limits, fileField, () => {})
}
