import { extensionOf, type ServedFormat, type SourceFormat } from './formats.js'

// Keys are built from the image id (never from a client's file name) and are fixed per image,
// height and format, so a retried or duplicated render overwrites its object rather than leaking one.

export function originalKey(imageId: string, format: SourceFormat): string {
  return `originals/${imageId}.${extensionOf(format)}`
}

/** A thumbnail in its source format, or one of its renditions: the extension tells them apart. */
export function thumbnailKey(imageId: string, height: number, format: ServedFormat): string {
  return `thumbnails/${imageId}/${height}.${extensionOf(format)}`
}

/**
 * Where a client's bytes wait until their upload completes: under `uploads/`, never an image's own
 * key, so a client that can write there (a presigned PUT, a TUS upload) cannot touch an image. A
 * completed upload is copied to its original's key and this object removed.
 */
export function stagedUploadKey(uploadId: string, kind: 'direct' | 'resumable'): string {
  return `uploads/${kind}/${uploadId}`
}

/**
 * The objects a resumable upload keeps beside its staged file while it is in progress: the TUS
 * store's (@tus/s3-store) metadata and a tail shorter than a multipart part. Removed with it.
 */
export function resumableUploadSideKeys(stagedKey: string): string[] {
  return [`${stagedKey}.info`, `${stagedKey}.part`]
}
