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
