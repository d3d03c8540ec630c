import { ApiError } from '../plugins/app/errors.js'
import { UUID } from './ids.js'

/** Where a page ended in a list ordered by (created_at, id), newest first. */
export interface KeysetPosition {
  createdAt: Date
  id: string
}

/**
 * Cursors are opaque to clients: base64url of `<tag>:<created_at>|<id>`, the tag telling one list's
 * cursors from another's (`t` sessions, `d` webhook deliveries), so one list's cursor is refused by
 * another with the same 400 as any forged one.
 */
export function encodeKeysetCursor(tag: string, position: KeysetPosition): string {
  return Buffer.from(`${tag}:${position.createdAt.toISOString()}|${position.id}`).toString('base64url')
}

export function decodeKeysetCursor(tag: string, cursor: string): KeysetPosition {
  const match = /^(\w+):(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\|(.{36})$/.exec(Buffer.from(cursor, 'base64url').toString())
  const createdAt = match && match[1] === tag ? new Date(match[2]!) : undefined
  if (!match || !createdAt || Number.isNaN(createdAt.getTime()) || !UUID.test(match[3]!)) {
    throw new ApiError(400, 'cursor is not one this API returned', 'cursor')
  }
  return { createdAt, id: match[3]!.toLowerCase() }
}
