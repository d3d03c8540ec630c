import type { Repositories, User } from '@imageapi/db'
import { hashPassword } from './passwords.js'

export class AccountError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message)
    this.name = 'AccountError'
  }
}

const EMAIL = /^[^\s@]+@[^\s@]+$/

export interface NewAccount {
  email: string
  password: string
  tierName: string
  isAdmin?: boolean
}

/** The one place the rules for a new account live; the CLI and the admin API both call it. */
export async function createAccount(repos: Repositories, account: NewAccount): Promise<User> {
  const email = account.email.trim().toLowerCase()
  if (!EMAIL.test(email) || email.length > 254) throw new AccountError('email', 'email must be an email address')
  if (account.password.length < 5) throw new AccountError('password', 'password must be at least 5 characters')
  if (account.password.length > 1024) throw new AccountError('password', 'password must be at most 1024 characters')
  const tier = await repos.tiers.findByName(account.tierName)
  if (!tier) throw new AccountError('tier', `there is no tier named ${JSON.stringify(account.tierName)}`)
  if (await repos.users.findByEmail(email)) throw new AccountError('email', `a user with email ${email} already exists`)
  return repos.users.create({ email, passwordHash: await hashPassword(account.password), tierId: tier.id, isAdmin: account.isAdmin ?? false })
}

export type EnsureAdminResult = { created: true; user: User } | { created: false; user: User }

/** Creates the first admin unless an admin exists already; running it twice changes nothing. */
export async function ensureAdmin(repos: Repositories, admin: { email: string; password: string; tierName?: string }): Promise<EnsureAdminResult> {
  const existing = await repos.users.findFirstAdmin()
  if (existing) return { created: false, user: existing }
  const user = await createAccount(repos, { ...admin, tierName: admin.tierName ?? 'Enterprise', isAdmin: true })
  return { created: true, user }
}
