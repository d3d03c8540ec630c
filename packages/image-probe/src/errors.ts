/** Why an upload was refused; the gateway maps these to HTTP statuses. */
export type ImageRejectionCode = 'empty' | 'unsupported_format' | 'too_large' | 'too_many_pixels' | 'invalid_image'

/** An upload that must not be stored. `message` is written for the API client and reveals nothing internal. */
export class ImageRejectedError extends Error {
  constructor(
    readonly code: ImageRejectionCode,
    message: string,
  ) {
    super(message)
    this.name = 'ImageRejectedError'
  }
}

/** The one message for every broken or cut-off file, with a short hint of what was wrong. */
export function invalidImage(detail?: string): ImageRejectedError {
  return new ImageRejectedError(
    'invalid_image',
    detail === undefined ? 'the file is truncated or corrupt' : `the file is truncated or corrupt (${detail})`,
  )
}

export function unsupportedFormat(): ImageRejectedError {
  return new ImageRejectedError('unsupported_format', 'not a PNG or JPEG image')
}
