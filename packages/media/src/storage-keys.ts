import { extensionOf, type SourceFormat } from './formats.js'

// Keys are built from the image id (never from a client's file name) and are fixed per image and
// height, so a retried or duplicated render overwrites its object rather than leaking one.

export function originalKey(imageId: string, format: SourceFormat): string {
  return `originals/${imageId}.${extensionOf(format)}`
}

export function thumbnailKey(imageId: string, height: number, format: SourceFormat): string {
  return `thumbnails/${imageId}/${height}.${extensionOf(format)}`
}
