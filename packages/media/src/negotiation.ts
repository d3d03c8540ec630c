import { contentTypeOf, RENDITION_PREFERENCE, type RenditionFormat, type ServedFormat, type SourceFormat } from './formats.js'

/**
 * Content negotiation for a thumbnail link (RFC 9110 §12.5.1). Only a rendition format the request
 * names explicitly (with q > 0) may be chosen: `image/*` and `*` / `*` match the source format only,
 * since browsers send wildcards whether or not they decode AVIF or WebP. Among acceptable formats
 * the higher q wins, then AVIF before WebP before the source format. The source format is the
 * fallback for everything else, a missing or malformed Accept included: a thumbnail link always
 * answers with an image, and every answer carries `Vary: Accept`.
 */

interface MediaRange {
  type: string
  subtype: string
  q: number
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/
/** Longest Accept header read: longer ones are treated as malformed, so a hostile header costs a bounded amount of work. */
const MAX_ACCEPT_LENGTH = 2048

/** The media ranges of an Accept header, or undefined when any part of it is malformed. */
export function parseAccept(header: string): MediaRange[] | undefined {
  if (header.length > MAX_ACCEPT_LENGTH) return undefined
  const ranges: MediaRange[] = []
  for (const element of header.split(',')) {
    const trimmed = element.trim()
    if (trimmed === '') continue // RFC 9110 §5.6.1: empty list elements are allowed and ignored
    const [mediaType, ...parameters] = trimmed.split(';')
    const [type, subtype, extra] = mediaType!.trim().toLowerCase().split('/')
    if (extra !== undefined || !type || !subtype || !TOKEN.test(type) || !TOKEN.test(subtype)) return undefined
    if (type === '*' && subtype !== '*') return undefined
    let q = 1
    for (const parameter of parameters) {
      const separator = parameter.indexOf('=')
      if (separator <= 0) return undefined
      const name = parameter.slice(0, separator).trim().toLowerCase()
      const value = parameter.slice(separator + 1).trim()
      if (!TOKEN.test(name) || value === '') return undefined
      if (name === 'q') {
        if (!QVALUE.test(value)) return undefined
        q = Number(value)
      }
    }
    ranges.push({ type, subtype, q })
  }
  return ranges
}

/** The q the ranges give a content type: the most specific matching range decides (exact, then type/*, then * /*). */
function qualityOf(ranges: readonly MediaRange[], contentType: string, wildcardsCount: boolean): number | undefined {
  const [type, subtype] = contentType.split('/') as [string, string]
  let best: { specificity: number; q: number } | undefined
  for (const range of ranges) {
    let specificity: number
    if (range.type === type && range.subtype === subtype) specificity = 3
    else if (wildcardsCount && range.type === type && range.subtype === '*') specificity = 2
    else if (wildcardsCount && range.type === '*') specificity = 1
    else continue
    if (!best || specificity > best.specificity || (specificity === best.specificity && range.q > best.q)) best = { specificity, q: range.q }
  }
  return best?.q
}

/**
 * The formats a request accepts for a thumbnail whose source format is `source`, best first; the
 * source format is always last (the fallback). Depends only on the header and the source format, so
 * it also names the representation for a cache that keys answers by it.
 */
export function rankFormats(accept: string | undefined, source: SourceFormat): ServedFormat[] {
  const ranges = accept === undefined ? undefined : parseAccept(accept)
  if (!ranges || ranges.length === 0) return [source]
  const sourceQ = qualityOf(ranges, contentTypeOf(source), true) ?? 0
  const acceptable: Array<{ format: ServedFormat; q: number; order: number }> = []
  RENDITION_PREFERENCE.forEach((format, order) => {
    const q = qualityOf(ranges, contentTypeOf(format), false)
    if (q !== undefined && q > 0 && q >= sourceQ) acceptable.push({ format, q, order })
  })
  acceptable.sort((a, b) => b.q - a.q || a.order - b.order)
  return [...acceptable.map((entry) => entry.format), source]
}

/** The representation to serve: the best-ranked format among those available (the source format always is). */
export function negotiateFormat(accept: string | undefined, source: SourceFormat, available: ReadonlySet<RenditionFormat>): ServedFormat {
  for (const format of rankFormats(accept, source)) {
    if (format === source || available.has(format as RenditionFormat)) return format
  }
  return source
}

/**
 * A short name for what an Accept header can make a thumbnail link answer with, whatever the
 * thumbnail's source format: a cache of answers keys by URL and this (and the answer says Vary:
 * Accept), so clients that would get the same representation share entries.
 */
export function representationKey(accept: string | undefined): string {
  return `${rankFormats(accept, 'jpeg').join(',')};${rankFormats(accept, 'png').join(',')}`
}
