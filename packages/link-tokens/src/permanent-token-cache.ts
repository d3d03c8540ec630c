import { LruCache } from '@imageapi/lru-cache'
import type { LinkClaims, LinkSigner } from './token.js'

/**
 * A signer that remembers the tokens it signed for permanent links (no expiry, no link row), at
 * most `maxEntries` of them, the least recently used going first. Such a token depends only on
 * the image, the variant, the format it is pinned to (if any) and the signing key, so a
 * remembered one is exactly what signing again would give; a listing signs the same links on
 * every request, one HMAC each.
 *
 * The cache belongs to this signer, and so to its signing key: a new key ring (a rotation) makes a
 * new signer, whose cache starts empty. Expiring links are signed every time: each has its own row
 * and is signed when it is made. Verification is the wrapped signer's.
 */
export function memoizePermanentTokens(signer: LinkSigner, options: { maxEntries: number }): LinkSigner {
  const tokens = new LruCache<string, string>({ maxEntries: options.maxEntries })
  return {
    sign(claims) {
      const key = permanentLinkKey(claims)
      if (key === undefined) return signer.sign(claims)
      const remembered = tokens.get(key)
      if (remembered !== undefined) return remembered
      // signs (and so validates) before anything is remembered: claims that throw are never cached
      const token = signer.sign(claims)
      tokens.set(key, token)
      return token
    },
    verify: (token, nowSeconds) => signer.verify(token, nowSeconds),
  }
}

/**
 * What a permanent link's token depends on besides the key, or undefined for any other claims.
 * Signing treats an expiry of 0 as none, so those claims give the same token. Values of the wrong
 * type get no key, so they reach the signer and throw there even after a valid twin was remembered.
 */
function permanentLinkKey(claims: LinkClaims): string | undefined {
  if (claims === null || typeof claims !== 'object') return undefined
  const { imageId, variant, expiresAt, linkId, format } = claims
  if ((expiresAt !== undefined && expiresAt !== 0) || linkId !== undefined) return undefined
  if (typeof imageId !== 'string' || !(variant === 'original' || typeof variant === 'number')) return undefined
  if (format === undefined) return `${imageId}/${variant}`
  // only valid claims are ever remembered, and no UUID, variant or format name holds a '/'
  return typeof format === 'string' ? `${imageId}/${variant}/${format}` : undefined
}
