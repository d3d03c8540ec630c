import type { LinkSigner } from '@imageapi/link-tokens'
import { LruCache } from '@imageapi/lru-cache'
import { checkToken, type TokenOutcome } from './resolve-view-link.js'

const EXPIRED: TokenOutcome = { kind: 'expired' }

/**
 * Token checks that remember verified tokens. The MAC is the costliest step of serving a hot link,
 * and a given token string verifies the same way for as long as the process's key ring is fixed
 * (it is read once at start), so only the signature check is remembered: expiry is still compared
 * with the clock on every request. Only genuine tokens are kept, so junk cannot fill the cache.
 */
export function createTokenChecker(signer: LinkSigner, maxEntries: number): (token: string, nowSeconds: number) => TokenOutcome {
  const verified = new LruCache<string, Extract<TokenOutcome, { kind: 'valid' }>>({ maxEntries })
  return (token, nowSeconds) => {
    const known = verified.get(token)
    if (known) {
      const { expiresAt } = known.claims
      return expiresAt !== undefined && nowSeconds >= expiresAt ? EXPIRED : known
    }
    const outcome = checkToken(signer, token, nowSeconds)
    if (outcome.kind === 'valid') verified.set(token, outcome)
    return outcome
  }
}
