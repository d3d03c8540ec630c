import { generateSigningKey, parseSigningKeys, type LinkClaims } from '../src/index.js'

/** Fixed secrets so failures are reproducible; each decodes to 32 bytes. */
export const SECRET_A = Buffer.alloc(32, 0xa1).toString('base64url')
export const SECRET_B = Buffer.alloc(32, 0xb2).toString('base64')
export const SECRET_C = generateSigningKey()

export const IMAGE_ID = '0b9e6f2a-3c4d-4e5f-8a6b-7c8d9e0f1a2b'
export const LINK_ID = 'f47ac10b-58cc-4372-a567-0e02b2c3d479'

/** A clock well inside the 32-bit expiry range. */
export const NOW = 1_750_000_000

export const ringOf = (spec: string) => parseSigningKeys(spec)

export const permanentClaims: LinkClaims = { imageId: IMAGE_ID, variant: 'original' }
export const expiringClaims: LinkClaims = { imageId: IMAGE_ID, variant: 400, expiresAt: NOW + 3600, linkId: LINK_ID }
