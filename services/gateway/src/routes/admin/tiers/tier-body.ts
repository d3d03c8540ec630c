import { Type } from '@fastify/type-provider-typebox'
import { MAX_HEIGHTS_PER_TIER, TIER_NAME_MAX_LENGTH, type TierRules } from '@imageapi/accounts'

/**
 * The fields of a tier as the API takes them. Only their types are checked here: the values are
 * checked by the rules in @imageapi/accounts, which the CLI shares, so both say the same thing.
 */
export function tierFields(rules: TierRules) {
  return {
    name: Type.String({ description: `Unique (ignoring case), at most ${TIER_NAME_MAX_LENGTH} characters` }),
    thumbnail_heights: Type.Array(Type.Integer(), {
      description: `1 to ${MAX_HEIGHTS_PER_TIER} distinct heights in pixels, each from ${rules.minHeight} to ${rules.maxHeight}`,
      examples: [[120, 640]],
    }),
    original_link: Type.Boolean({ description: 'Whether users get a link to the original file' }),
    expiring_links: Type.Boolean({ description: 'Whether users may create links that expire' }),
  }
}
