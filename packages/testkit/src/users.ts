import { randomUUID } from 'node:crypto'
import { createAccount } from '@imageapi/accounts'
import type { Repositories, User } from '@imageapi/db'

export interface TestUser {
  user: User
  email: string
  password: string
}

export async function createTestUser(repos: Repositories, tierName: string, options: { isAdmin?: boolean } = {}): Promise<TestUser> {
  const email = `${tierName.toLowerCase().replace(/[^a-z0-9]/g, '')}-${randomUUID().slice(0, 8)}@example.com`
  const password = `pw-${randomUUID()}`
  const user = await createAccount(repos, { email, password, tierName, isAdmin: options.isAdmin ?? false })
  return { user, email, password }
}
