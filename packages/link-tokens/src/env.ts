import { Type } from '@imageapi/config'

/**
 * A fixed development key ring, so the gateway (which signs) and the links service (which verifies)
 * agree on a laptop with no setup. Production must set LINK_SIGNING_KEYS (see requireInProduction).
 */
export const DEVELOPMENT_SIGNING_KEYS = 'dev:ZGV2ZWxvcG1lbnQtb25seS1saW5rLWtleS1jaGFuZ2UtbWU'

export const linkSigningEnvSchema = {
  /** `kid:secret,kid:secret` (base64 secrets of 32+ bytes): the first key signs, every key verifies. */
  LINK_SIGNING_KEYS: Type.String({ minLength: 1, default: DEVELOPMENT_SIGNING_KEYS }),
}
