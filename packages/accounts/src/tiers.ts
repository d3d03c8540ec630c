import { ConfigError, Type } from '@imageapi/config'
import type { Backfill, Repositories, Tier, TierChanges, TierWithUsers } from '@imageapi/db'
import { AccountError } from './errors.js'

/** The bounds an admin's thumbnail heights must stay within; both ends allowed. */
export interface TierRules {
  minHeight: number
  maxHeight: number
}

export const DEFAULT_TIER_RULES: TierRules = { minHeight: 16, maxHeight: 4096 }
export const MAX_HEIGHTS_PER_TIER = 10
export const TIER_NAME_MAX_LENGTH = 50

export const tierRulesEnvSchema = {
  /** Smallest and largest thumbnail height a tier may grant. */
  TIER_HEIGHT_MIN: Type.Integer({ minimum: 1, maximum: 65_535, default: DEFAULT_TIER_RULES.minHeight }),
  TIER_HEIGHT_MAX: Type.Integer({ minimum: 1, maximum: 65_535, default: DEFAULT_TIER_RULES.maxHeight }),
}

/** The rules from loaded config; a minimum above the maximum stops the process like any bad value. */
export function tierRulesFromConfig(config: { TIER_HEIGHT_MIN: number; TIER_HEIGHT_MAX: number }): TierRules {
  if (config.TIER_HEIGHT_MIN > config.TIER_HEIGHT_MAX) {
    throw new ConfigError([{ variable: 'TIER_HEIGHT_MAX', message: `must be at least TIER_HEIGHT_MIN (${config.TIER_HEIGHT_MIN})` }])
  }
  return { minHeight: config.TIER_HEIGHT_MIN, maxHeight: config.TIER_HEIGHT_MAX }
}

export interface NewTierInput {
  name: string
  thumbnailHeights: readonly number[]
  originalLink?: boolean
  expiringLinks?: boolean
}

export type TierInputChanges = Partial<NewTierInput>

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/

function checkName(name: string): string {
  const trimmed = name.trim()
  if (trimmed === '') throw new AccountError('name', 'name must not be blank')
  if ([...trimmed].length > TIER_NAME_MAX_LENGTH) throw new AccountError('name', `name must be at most ${TIER_NAME_MAX_LENGTH} characters`)
  if (CONTROL_CHARACTERS.test(trimmed)) throw new AccountError('name', 'name must not contain control characters')
  return trimmed
}

/** 1 to 10 distinct whole numbers within the bounds; returned ascending, as tiers store them. */
export function checkThumbnailHeights(heights: readonly number[], rules: TierRules = DEFAULT_TIER_RULES): number[] {
  if (heights.length < 1 || heights.length > MAX_HEIGHTS_PER_TIER) {
    throw new AccountError('thumbnail_heights', `thumbnail_heights must list 1 to ${MAX_HEIGHTS_PER_TIER} heights (got ${heights.length})`)
  }
  const seen = new Set<number>()
  for (const height of heights) {
    if (!Number.isInteger(height) || height < rules.minHeight || height > rules.maxHeight) {
      throw new AccountError('thumbnail_heights', `thumbnail_heights must be whole numbers from ${rules.minHeight} to ${rules.maxHeight} (got ${height})`)
    }
    if (seen.has(height)) throw new AccountError('thumbnail_heights', `thumbnail_heights must be distinct (${height} is listed twice)`)
    seen.add(height)
  }
  return [...seen].sort((a, b) => a - b)
}

async function checkNameFree(repos: Repositories, name: string, exceptId?: number): Promise<void> {
  if (await repos.tiers.nameTaken(name, exceptId)) throw new AccountError('name', `a tier named ${JSON.stringify(name)} already exists`, 'conflict')
}

export async function findTier(repos: Repositories, id: number): Promise<TierWithUsers> {
  const tier = Number.isSafeInteger(id) ? await repos.tiers.findWithUsers(id) : undefined
  if (!tier) throw new AccountError('id', 'tier not found', 'not_found')
  return tier
}

/**
 * Tiers are addressed by name where people type them: the CLI, a user's tier, a filter, a backfill.
 * Case is ignored (as it is for uniqueness: "basic" finds Basic), and so are surrounding spaces;
 * the tier keeps the name as it was written.
 */
export async function findTierByName(repos: Repositories, name: string): Promise<Tier> {
  const tier = await repos.tiers.findByName(name.trim())
  if (!tier) throw new AccountError('tier', `there is no tier named ${JSON.stringify(name)}`)
  return tier
}

/** The rules for a new tier, shared by the CLI and the admin API. */
export async function createTier(repos: Repositories, input: NewTierInput, rules: TierRules = DEFAULT_TIER_RULES): Promise<TierWithUsers> {
  const name = checkName(input.name)
  const thumbnailHeights = checkThumbnailHeights(input.thumbnailHeights, rules)
  await checkNameFree(repos, name)
  const tier = await repos.tiers.create({ name, thumbnailHeights, originalLink: input.originalLink ?? false, expiringLinks: input.expiringLinks ?? false })
  return { ...tier, users: 0 }
}

/**
 * Changes a tier, built-in ones included. New heights are owed to every image of its users at
 * once: the backfill says which, and is the caller's to queue. Dropped heights disappear from
 * listings and links at once, since both read the tier.
 */
export async function updateTier(
  repos: Repositories,
  id: number,
  changes: TierInputChanges,
  rules: TierRules = DEFAULT_TIER_RULES,
): Promise<{ tier: TierWithUsers; backfill: Backfill | undefined }> {
  const current = await findTier(repos, id)
  const name = changes.name !== undefined ? checkName(changes.name) : undefined
  const thumbnailHeights = changes.thumbnailHeights !== undefined ? checkThumbnailHeights(changes.thumbnailHeights, rules) : undefined
  if (name !== undefined) await checkNameFree(repos, name, current.id)
  const tierChanges: TierChanges = {
    ...(name !== undefined ? { name } : {}),
    ...(thumbnailHeights ? { thumbnailHeights } : {}),
    ...(changes.originalLink !== undefined ? { originalLink: changes.originalLink } : {}),
    ...(changes.expiringLinks !== undefined ? { expiringLinks: changes.expiringLinks } : {}),
  }
  const updated = await repos.tiers.update(current.id, tierChanges)
  if (!updated) throw new AccountError('id', 'tier not found', 'not_found')
  return { tier: { ...updated.tier, users: current.users }, backfill: updated.backfill }
}

/** Only a tier nobody is on can go: moving its users is a decision for a person. */
export async function deleteTier(repos: Repositories, id: number): Promise<Tier> {
  const tier = await findTier(repos, id)
  const result = await repos.tiers.deleteUnused(tier.id)
  if (!result) throw new AccountError('id', 'tier not found', 'not_found')
  if (!result.deleted) {
    const users = result.users === 1 ? '1 user is' : `${result.users} users are`
    throw new AccountError('id', `${users} still on tier ${JSON.stringify(tier.name)}; move them to another tier first`, 'conflict')
  }
  return tier
}

/** Owes every image of the tier's users each height the tier grants and it lacks; undefined when none lacks any. */
export async function requestTierBackfill(repos: Repositories, tierName: string): Promise<{ tier: Tier; backfill: Backfill | undefined }> {
  const tier = await findTierByName(repos, tierName)
  return { tier, backfill: await repos.backfills.requestForTier(tier.id) }
}
