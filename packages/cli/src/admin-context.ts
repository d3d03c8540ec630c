import type { TierRules } from '@imageapi/accounts'
import type { RedisNode } from '@imageapi/queue'
import type { Print } from './commands.js'

export interface AdminContext {
  databaseUrl: string
  redisUrl: string
  /** REDIS_CLUSTER_NODES, parsed: when given, the queue is on this Redis Cluster and redisUrl is not used. */
  redisClusterNodes?: readonly RedisNode[]
  queuePrefix: string
  tierRules: TierRules
  print: Print
  /** Where the progress bar goes; a terminal gets one line redrawn in place, anything else a line per change. */
  progress: { write(text: string): void; isTTY: boolean }
  /** How often a watched backfill is read. */
  pollMs: number
  /** How long to wait for Redis before leaving the queueing to the reconciler. */
  queueTimeoutMs: number
}

/** The command line was wrong (not the values in it): the usage follows the message. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export function parseYesNo(value: string | undefined, flag: string): boolean | undefined {
  if (value === undefined) return undefined
  if (/^(yes|true|1)$/i.test(value)) return true
  if (/^(no|false|0)$/i.test(value)) return false
  throw new UsageError(`--${flag} takes yes or no (got ${JSON.stringify(value)})`)
}

/** "120,640" → [120, 640]; the tier rules then check the values, as for the API. */
export function parseHeights(value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined
  const parts = value.split(',').map((part) => part.trim()).filter(Boolean)
  if (!parts.every((part) => /^\d{1,6}$/.test(part))) throw new UsageError(`--heights takes whole numbers separated by commas, e.g. 120,640 (got ${JSON.stringify(value)})`)
  return parts.map(Number)
}

export const yesNo = (value: boolean) => (value ? 'yes' : 'no')

/**
 * What a terminal must never receive raw from data: C0 controls (ESC starts the escape sequences
 * that recolour, retitle or rewrite a screen), DEL, C1 controls (U+009B is a one-character CSI),
 * and the Unicode marks that reorder or break lines (bidi overrides, line/paragraph separators).
 */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

function escapeCharacter(character: string): string {
  const code = character.charCodeAt(0)
  return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

/**
 * The text with every control character written as an escape (`\x1b`, `\u009b`), so what reaches the
 * terminal is only printable text. `keep` lists the controls the output itself means (a newline
 * between lines of a message, the `\r` that redraws a progress bar); values in tables keep none.
 */
export function terminalSafe(text: string, keep = ''): string {
  return text.replace(UNPRINTABLE, (character) => (keep.includes(character) ? character : escapeCharacter(character)))
}

/** Left-aligned columns, for lists a person reads; control characters in values are escaped (and counted as written). */
export function formatTable(rows: string[][]): string[] {
  const safe = rows.map((row) => row.map((value) => terminalSafe(value)))
  const widths = safe[0]!.map((_, column) => Math.max(...safe.map((row) => row[column]!.length)))
  return safe.map((row) => row.map((value, column) => value.padEnd(widths[column]!)).join('  ').trimEnd())
}
