/**
 * Which variants of an image its owner's tier grants now. A variant is the original or one
 * thumbnail row (a height); a height dropped from the tier stops being granted at once, and a
 * height asked for explicitly at upload (`requested`, a compat custom box) stays granted whatever
 * the tier's heights.
 */

/** What of a tier the rule reads (the shape of a tier row). */
export interface TierGrants {
  thumbnail_heights: readonly number[]
  original_link: boolean
}

/** What of a thumbnail row the rule reads. */
export interface GrantableThumbnail {
  height: number
  requested: boolean
}

/**
 * A thumbnail is granted when any of these holds. The names are the definition shared with the
 * database: packages/db writes one SQL condition per name (a Record over this type, so a condition
 * added here does not compile there until it has its SQL), and a test checks both agree.
 */
export const THUMBNAIL_GRANT_CONDITIONS = ['requested', 'height_in_tier'] as const

export type ThumbnailGrantCondition = (typeof THUMBNAIL_GRANT_CONDITIONS)[number]

const THUMBNAIL_GRANT_CHECKS: Record<ThumbnailGrantCondition, (tier: TierGrants, thumbnail: GrantableThumbnail) => boolean> = {
  requested: (_tier, thumbnail) => thumbnail.requested,
  height_in_tier: (tier, thumbnail) => tier.thumbnail_heights.includes(thumbnail.height),
}

export function grantsThumbnail(tier: TierGrants, thumbnail: GrantableThumbnail): boolean {
  return THUMBNAIL_GRANT_CONDITIONS.some((condition) => THUMBNAIL_GRANT_CHECKS[condition](tier, thumbnail))
}

export function grantsOriginal(tier: TierGrants): boolean {
  return tier.original_link
}
