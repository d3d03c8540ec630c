export {
  createLinkSigner,
  MAC_BYTES,
  MAX_TOKEN_LENGTH,
  TOKEN_FORMAT_VERSION,
  type LinkClaims,
  type LinkSigner,
  type VerifyFailureReason,
  type VerifyResult,
} from './token.js'
export { memoizePermanentTokens } from './permanent-token-cache.js'
export { generateSigningKey, MIN_SECRET_BYTES, parseSigningKeys, type SigningKey } from './keys.js'
export { bytesToUuid, isUuid, uuidToBytes } from './uuid.js'
export { DEVELOPMENT_SIGNING_KEYS, linkSigningEnvSchema } from './env.js'
export { VIEW_PATH } from './view-path.js'
