import type { Kysely } from 'kysely'
import type { Database, Tier, User } from '../schema.js'

export type UserWithTier = User & { tier: Tier }

export class UsersRepository {
  constructor(private readonly db: Kysely<Database>) {}

  findByEmail(email: string): Promise<User | undefined> {
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

  async setActive(id: string, active: boolean): Promise<void> {
    await this.db.updateTable('users').set({ is_active: active, updated_at: new Date() }).where('id', '=', id).execute()
  }

  findFirstAdmin(): Promise<User | undefined> {
    return this.db.selectFrom('users').selectAll().where('is_admin', '=', true).orderBy('created_at').limit(1).executeTakeFirst()
  }
}
