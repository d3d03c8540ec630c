export { hashPassword, verifyPassword } from './passwords.js'
export { AccountError } from './errors.js'
export { checkEmail, normalizeEmail, EMAIL_LOCAL_PART_MAX_LENGTH, EMAIL_MAX_LENGTH } from './emails.js'
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
