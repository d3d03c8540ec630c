/**
 * The formats an original may have, and every thumbnail made from it: each with the content type
 * it is served with and the extension its stored objects and downloads carry. One table, so adding
 * a format is one entry here.
 */
export const SOURCE_FORMATS = {
  png: { contentType: 'image/png', extension: 'png' },
  jpeg: { contentType: 'image/jpeg', extension: 'jpg' },
} as const satisfies Record<string, { contentType: string; extension: string }>

export type SourceFormat = keyof typeof SOURCE_FORMATS

export function isSourceFormat(value: string | undefined): value is SourceFormat {
  return value !== undefined && Object.hasOwn(SOURCE_FORMATS, value)
}

export function contentTypeOf(format: SourceFormat): string {
  return SOURCE_FORMATS[format].contentType
}

export function extensionOf(format: SourceFormat): string {
  return SOURCE_FORMATS[format].extension
}
