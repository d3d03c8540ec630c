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

/** Left-aligned columns, for lists a person reads. */
export function formatTable(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) => row.map((value, column) => value.padEnd(widths[column]!)).join('  ').trimEnd())
}
