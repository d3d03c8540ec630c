import { hash, verify } from '@node-rs/argon2'

// @node-rs/argon2 exports Algorithm as a const enum, which isolated modules cannot read: 2 is Argon2id.
const ARGON2ID = 2

// OWASP's argon2id baseline (19 MiB, 2 passes): ~30 ms here, cheap enough for a login route.
const HASH_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const

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
