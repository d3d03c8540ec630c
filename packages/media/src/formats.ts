/**
 * The formats imageapi stores and serves, each with the content type it is served with and the
 * extension its stored objects and downloads carry. An original is a source format (PNG or JPEG);
 * every thumbnail is made in its original's source format and, next to it, in each enabled
 * rendition format. One table per kind, so adding a format is one entry here.
 */
export const SOURCE_FORMATS = {
  png: { contentType: 'image/png', extension: 'png' },
  jpeg: { contentType: 'image/jpeg', extension: 'jpg' },
} as const satisfies Record<string, FormatFacts>

/** Formats a thumbnail is also made in, from the same decode, when enabled (a setting kept in the database). */
export const RENDITION_FORMATS = {
  webp: { contentType: 'image/webp', extension: 'webp' },
  avif: { contentType: 'image/avif', extension: 'avif' },
} as const satisfies Record<string, FormatFacts>

interface FormatFacts {
  contentType: string
  extension: string
}

export type SourceFormat = keyof typeof SOURCE_FORMATS
export type RenditionFormat = keyof typeof RENDITION_FORMATS
/** Any format a thumbnail can be served in. */
export type ServedFormat = SourceFormat | RenditionFormat

const SERVED_FORMATS: Record<ServedFormat, FormatFacts> = { ...SOURCE_FORMATS, ...RENDITION_FORMATS }

/** Rendition formats from most to least preferred when a request accepts several: smallest files first. */
export const RENDITION_PREFERENCE: readonly RenditionFormat[] = ['avif', 'webp']

export function isSourceFormat(value: string | undefined): value is SourceFormat {
  return value !== undefined && Object.hasOwn(SOURCE_FORMATS, value)
}

export function isRenditionFormat(value: string | undefined): value is RenditionFormat {
  return value !== undefined && Object.hasOwn(RENDITION_FORMATS, value)
}

export function isServedFormat(value: string | undefined): value is ServedFormat {
  return isSourceFormat(value) || isRenditionFormat(value)
}

/** The source format a content type names (as a client declares it), if it names one. */
export function sourceFormatOfContentType(contentType: string): SourceFormat | undefined {
  const type = contentType.split(';')[0]!.trim().toLowerCase()
  return (Object.keys(SOURCE_FORMATS) as SourceFormat[]).find((format) => SOURCE_FORMATS[format].contentType === type)
}

export function contentTypeOf(format: ServedFormat): string {
  return SERVED_FORMATS[format].contentType
}

export function extensionOf(format: ServedFormat): string {
  return SERVED_FORMATS[format].extension
}

/**
 * The one-byte code of each served format inside a signed link token (packages/link-tokens). Codes
 * are forever: a link signed today must open the same format later, so a code is never reused.
 */
export const FORMAT_TOKEN_CODES: Readonly<Record<ServedFormat, number>> = { png: 1, jpeg: 2, webp: 3, avif: 4 }
