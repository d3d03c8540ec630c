import { Algorithm, hash, verify } from '@node-rs/argon2'

// OWASP's argon2id baseline (19 MiB, 2 passes): ~30 ms here, cheap enough for a login route.
const HASH_OPTIONS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const

export function hashPassword(password: string): Promise<string> {
  return hash(password, HASH_OPTIONS)
}

let dummyHash: Promise<string> | undefined

/**
 * Verifies a password against a stored hash, or against a throwaway hash when there is no user,
 * so a login for an unknown email costs the same time as one for a known email.
 */
export async function verifyPassword(storedHash: string | undefined, password: string): Promise<boolean> {
  dummyHash ??= hashPassword('not-a-real-password')
  const target = storedHash ?? (await dummyHash)
  try {
    const ok = await verify(target, password)
    return storedHash !== undefined && ok
  } catch {
    return false
  }
}
