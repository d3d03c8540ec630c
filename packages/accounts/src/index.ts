export { hashPassword, verifyPassword } from './passwords.js'
export { AccountError } from './errors.js'
export {
  createAccount,
  ensureAdmin,
  findAccount,
  listAccounts,
  updateAccount,
  type AccountChanges,
  type NewAccount,
  type EnsureAdminResult,
} from './users.js'
export {
  checkThumbnailHeights,
  createTier,
  deleteTier,
  findTier,
  findTierByName,
  requestTierBackfill,
  tierRulesEnvSchema,
  tierRulesFromConfig,
  updateTier,
  DEFAULT_TIER_RULES,
  MAX_HEIGHTS_PER_TIER,
  TIER_NAME_MAX_LENGTH,
  type NewTierInput,
  type TierInputChanges,
  type TierRules,
} from './tiers.js'
