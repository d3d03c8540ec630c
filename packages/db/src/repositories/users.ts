import type { Kysely } from 'kysely'
import type { Backfill, Database, Tier, User } from '../schema.js'
import { retierThumbnails } from './backfills.js'

export type UserWithTier = User & { tier: Tier }

/** A user as an admin sees one: no password hash; the tier's name and how many images they have. */
export type UserSummary = Omit<User, 'password_hash' | 'token_version'> & { tier_name: string; images: number }

export interface UserPage {
  users: UserSummary[]
  /** Email of the last user on the page when more may follow. */
  nextAfterEmail: string | null
}

export interface UserChanges {
  email?: string
  passwordHash?: string
  tierId?: number
  isAdmin?: boolean
  isActive?: boolean
}

/** `%` and `_` typed into a search box mean themselves. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`)
}

export class UsersRepository {
  constructor(private readonly db: Kysely<Database>) {}

  findByEmail(email: string): Promise<User | undefined> {
    // no email holds a NUL, and Postgres refuses one as a parameter: a login with one is a miss, not a 500
    if (email.includes('\0')) return Promise.resolve(undefined)
    return this.db.selectFrom('users').selectAll().where('email', '=', email.toLowerCase()).executeTakeFirst()
  }

  /** The user and the rights their tier grants right now; read on every authenticated request. */
  async findWithTier(id: string): Promise<UserWithTier | undefined> {
    const row = await this.db
      .selectFrom('users')
      .innerJoin('tiers', 'tiers.id', 'users.tier_id')
      .selectAll('users')
      .select([
        'tiers.name as tier_name',
        'tiers.thumbnail_heights as tier_thumbnail_heights',
        'tiers.original_link as tier_original_link',
        'tiers.expiring_links as tier_expiring_links',
        'tiers.created_at as tier_created_at',
        'tiers.updated_at as tier_updated_at',
      ])
      .where('users.id', '=', id)
      .executeTakeFirst()
    if (!row) return undefined
    const { tier_name, tier_thumbnail_heights, tier_original_link, tier_expiring_links, tier_created_at, tier_updated_at, ...user } = row
    return {
      ...user,
      tier: {
        id: user.tier_id,
        name: tier_name,
        thumbnail_heights: tier_thumbnail_heights,
        original_link: tier_original_link,
        expiring_links: tier_expiring_links,
        created_at: tier_created_at,
        updated_at: tier_updated_at,
      },
    }
  }

  create(user: { email: string; passwordHash: string; tierId: number; isAdmin?: boolean }): Promise<User> {
    return this.db
      .insertInto('users')
      .values({
        email: user.email.toLowerCase(),
        password_hash: user.passwordHash,
        tier_id: user.tierId,
        is_admin: user.isAdmin ?? false,
      })
      .returningAll()
      .executeTakeFirstOrThrow()
  }

  /**
   * Voids every access and refresh token issued to the user so far (their `ver` claim no longer
   * matches); the new version, or undefined when there is no such user.
   */
  async bumpTokenVersion(id: string): Promise<number | undefined> {
    const row = await this.db
      .updateTable('users')
      .set((eb) => ({ token_version: eb('token_version', '+', 1) }))
      .where('id', '=', id)
      .returning('token_version')
      .executeTakeFirst()
    return row?.token_version
  }

  async setActive(id: string, active: boolean): Promise<void> {
    await this.db.updateTable('users').set({ is_active: active, updated_at: new Date() }).where('id', '=', id).execute()
  }

  findFirstAdmin(): Promise<User | undefined> {
    return this.db.selectFrom('users').selectAll().where('is_admin', '=', true).orderBy('created_at').limit(1).executeTakeFirst()
  }

  /** Users in email order, a keyset page at a time; optionally one tier's, or those whose email contains a text. */
  async list(options: { limit: number; afterEmail?: string; tierId?: number; emailContains?: string }): Promise<UserPage> {
    // a NUL, which Postgres refuses as a parameter, is in no email: nothing contains it
    if (options.emailContains?.includes('\0')) return { users: [], nextAfterEmail: null }
    let query = this.selectSummary()
    if (options.tierId !== undefined) query = query.where('users.tier_id', '=', options.tierId)
    if (options.emailContains) query = query.where('users.email', 'like', `%${escapeLike(options.emailContains.toLowerCase())}%`)
    if (options.afterEmail !== undefined) query = query.where('users.email', '>', options.afterEmail)
    const rows = await query.orderBy('users.email').limit(options.limit + 1).execute()
    const users = rows.slice(0, options.limit)
    return { users, nextAfterEmail: rows.length > options.limit ? users[users.length - 1]!.email : null }
  }

  findSummary(id: string): Promise<UserSummary | undefined> {
    return this.selectSummary().where('users.id', '=', id).executeTakeFirst()
  }

  /** Active admins other than `exceptId`: the last one must not lock everyone out. */
  async countActiveAdmins(exceptId?: string): Promise<number> {
    let query = this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('count')).where('is_admin', '=', true).where('is_active', '=', true)
    if (exceptId !== undefined) query = query.where('id', '<>', exceptId)
    return Number((await query.executeTakeFirstOrThrow()).count)
  }

  /**
   * Changes a user. Moving them to another tier gives their images what the new tier owes, in the
   * same transaction (see retierThumbnails); undefined when there is no such user.
   */
  update(id: string, changes: UserChanges): Promise<{ user: User; backfill: Backfill | undefined } | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const before = await trx.selectFrom('users').select('tier_id').where('id', '=', id).forUpdate().executeTakeFirst()
      if (!before) return undefined
      const moving = changes.tierId !== undefined && changes.tierId !== before.tier_id
      // read the new tier's heights only once a concurrent change of them has committed
      if (moving) await trx.selectFrom('tiers').select('id').where('id', '=', changes.tierId!).forShare().executeTakeFirst()
      const user = await trx
        .updateTable('users')
        .set({
          ...(changes.email !== undefined ? { email: changes.email.toLowerCase() } : {}),
          ...(changes.passwordHash !== undefined ? { password_hash: changes.passwordHash } : {}),
          ...(changes.tierId !== undefined ? { tier_id: changes.tierId } : {}),
          ...(changes.isAdmin !== undefined ? { is_admin: changes.isAdmin } : {}),
          ...(changes.isActive !== undefined ? { is_active: changes.isActive } : {}),
          updated_at: new Date(),
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow()
      const backfill = moving ? await retierThumbnails(trx, { userId: id }, { reason: 'user_moved', tierId: changes.tierId!, userId: id }) : undefined
      return { user, backfill }
    })
  }

  private selectSummary() {
    return this.db
      .selectFrom('users')
      .innerJoin('tiers', 'tiers.id', 'users.tier_id')
      .select(['users.id', 'users.email', 'users.tier_id', 'users.is_admin', 'users.is_active', 'users.created_at', 'users.updated_at', 'tiers.name as tier_name'])
      .select((eb) => eb.selectFrom('images').select(eb.fn.countAll<number>().as('count')).whereRef('images.owner_id', '=', 'users.id').as('images'))
      .$narrowType<{ images: number }>()
  }
}
