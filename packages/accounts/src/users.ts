import type { Backfill, Repositories, User, UserPage, UserSummary } from '@imageapi/db'
import { AccountError } from './errors.js'
import { hashPassword } from './passwords.js'
import { checkEmail } from './emails.js'
import { findTierByName } from './tiers.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function checkPassword(password: string): void {
  if (password.length < 5) throw new AccountError('password', 'password must be at least 5 characters')
  if (password.length > 1024) throw new AccountError('password', 'password must be at most 1024 characters')
}

export { AccountError }

export interface NewAccount {
  email: string
  password: string
  tierName: string
  isAdmin?: boolean
}

/** The one place the rules for a new account live; the CLI and the admin API both call it. */
export async function createAccount(repos: Repositories, account: NewAccount): Promise<User> {
  const email = checkEmail(account.email)
  checkPassword(account.password)
  const tier = await findTierByName(repos, account.tierName)
  if (await repos.users.findByEmail(email)) throw new AccountError('email', `a user with email ${email} already exists`, 'conflict')
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

export interface AccountChanges {
  email?: string
  password?: string
  tierName?: string
  isAdmin?: boolean
  isActive?: boolean
}

/** A user as an admin sees one; an AccountError (not_found) when there is none. */
export async function findAccount(repos: Repositories, id: string): Promise<UserSummary> {
  const user = UUID.test(id) ? await repos.users.findSummary(id.toLowerCase()) : undefined
  if (!user) throw new AccountError('id', 'user not found', 'not_found')
  return user
}

/**
 * The rules for changing a user, shared by the CLI and the admin API. Moving a user to another
 * tier owes their images the new tier's heights: the backfill says which, and is the caller's to queue.
 * The last active admin cannot lose admin rights or be deactivated: someone must be able to sign in.
 */
export async function updateAccount(repos: Repositories, id: string, changes: AccountChanges): Promise<{ user: UserSummary; backfill: Backfill | undefined }> {
  const current = await findAccount(repos, id)
  const email = changes.email !== undefined ? checkEmail(changes.email) : undefined
  if (email !== undefined && email !== current.email && (await repos.users.findByEmail(email))) {
    throw new AccountError('email', `a user with email ${email} already exists`, 'conflict')
  }
  if (changes.password !== undefined) checkPassword(changes.password)
  const tier = changes.tierName !== undefined ? await findTierByName(repos, changes.tierName) : undefined
  const losesAdmin = current.is_admin && current.is_active && (changes.isAdmin === false || changes.isActive === false)
  if (losesAdmin && (await repos.users.countActiveAdmins(current.id)) === 0) {
    const field = changes.isActive === false ? 'is_active' : 'is_admin'
    throw new AccountError(field, `${current.email} is the only active admin; make someone else an admin first`, 'conflict')
  }
  const updated = await repos.users.update(current.id, {
    ...(email !== undefined ? { email } : {}),
    ...(changes.password !== undefined ? { passwordHash: await hashPassword(changes.password) } : {}),
    ...(tier ? { tierId: tier.id } : {}),
    ...(changes.isAdmin !== undefined ? { isAdmin: changes.isAdmin } : {}),
    ...(changes.isActive !== undefined ? { isActive: changes.isActive } : {}),
  })
  if (!updated) throw new AccountError('id', 'user not found', 'not_found')
  // A new password or a deactivation voids every token issued before, at once (their `ver` claim
  // no longer matches), and ends every session; reactivating later revives none of them.
  const tokensVoidedBy = changes.password !== undefined ? 'password_changed' : changes.isActive === false ? 'deactivated' : undefined
  if (tokensVoidedBy) {
    await repos.users.bumpTokenVersion(current.id)
    await repos.sessions.endAllForUser(current.id, tokensVoidedBy, new Date())
  }
  return { user: await findAccount(repos, current.id), backfill: updated.backfill }
}

/** Users a page at a time, in email order; optionally one tier's, or those whose email contains a text. */
export async function listAccounts(repos: Repositories, options: { limit: number; after?: string; tierName?: string; email?: string }): Promise<UserPage> {
  const tier = options.tierName !== undefined ? await findTierByName(repos, options.tierName) : undefined
  return repos.users.list({
    limit: options.limit,
    ...(options.after !== undefined ? { afterEmail: options.after } : {}),
    ...(tier ? { tierId: tier.id } : {}),
    ...(options.email ? { emailContains: options.email.trim() } : {}),
  })
}
