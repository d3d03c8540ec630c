import { sql, type Kysely } from 'kysely'
import type { Backfill, Database, Tier } from '../schema.js'
import { retierThumbnails } from './backfills.js'

export type TierWithUsers = Tier & { users: number }

export interface TierChanges {
  name?: string
  thumbnailHeights?: readonly number[]
  originalLink?: boolean
  expiringLinks?: boolean
}

/** Heights are stored distinct and ascending, as the column promises. */
function distinctAscending(heights: readonly number[]): number[] {
  return [...new Set(heights)].sort((a, b) => a - b)
}

/** Tier names compare ignoring case, by Postgres's lower() on both sides: lookups and uniqueness agree. */
function sameName(name: string) {
  return sql<boolean>`lower(name) = lower(${name})`
}

export class TiersRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * The tier with this name, case ignored (`lower(name) = lower($1)`), as names are unique ignoring
   * case; should two older ones differ only in case, the exact spelling wins, then the first made.
   */
  findByName(name: string): Promise<Tier | undefined> {
    // no text column holds a NUL, and Postgres refuses one as a parameter
    if (name.includes('\0')) return Promise.resolve(undefined)
    return this.db
      .selectFrom('tiers')
      .selectAll()
      .where(sameName(name))
      .orderBy(sql`name = ${name}`, 'desc')
      .orderBy('id')
      .limit(1)
      .executeTakeFirst()
  }

  findById(id: number): Promise<Tier | undefined> {
    return this.db.selectFrom('tiers').selectAll().where('id', '=', id).executeTakeFirst()
  }

  list(): Promise<Tier[]> {
    return this.db.selectFrom('tiers').selectAll().orderBy('id').execute()
  }

  /** A tier is data: any set of heights, with or without the original and expiring links. */
  create(tier: { name: string; thumbnailHeights: readonly number[]; originalLink: boolean; expiringLinks: boolean }): Promise<Tier> {
    return this.db
      .insertInto('tiers')
      .values({
        name: tier.name,
        thumbnail_heights: distinctAscending(tier.thumbnailHeights),
        original_link: tier.originalLink,
        expiring_links: tier.expiringLinks,
      })
      .returningAll()
      .executeTakeFirstOrThrow()
  }

  /** Every tier with the number of users on it, in id order. */
  listWithUsers(): Promise<TierWithUsers[]> {
    return this.selectWithUsers().orderBy('tiers.id').execute()
  }

  findWithUsers(id: number): Promise<TierWithUsers | undefined> {
    return this.selectWithUsers().where('tiers.id', '=', id).executeTakeFirst()
  }

  /** Whether another tier has this name, ignoring case: "basic" next to "Basic" would only confuse. */
  async nameTaken(name: string, exceptId?: number): Promise<boolean> {
    if (name.includes('\0')) return false
    let query = this.db.selectFrom('tiers').select('id').where(sameName(name))
    if (exceptId !== undefined) query = query.where('id', '<>', exceptId)
    return (await query.executeTakeFirst()) !== undefined
  }

  /**
   * Changes a tier. When its heights change, the images of its users get what they are owed now,
   * in the same transaction (see retierThumbnails); undefined when there is no such tier.
   */
  update(id: number, changes: TierChanges): Promise<{ tier: Tier; backfill: Backfill | undefined } | undefined> {
    return this.db.transaction().execute(async (trx) => {
      // locked: a user moving onto this tier reads its heights only after this commits
      const before = await trx.selectFrom('tiers').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
      if (!before) return undefined
      const heights = changes.thumbnailHeights && distinctAscending(changes.thumbnailHeights)
      const tier = await trx
        .updateTable('tiers')
        .set({
          ...(changes.name !== undefined ? { name: changes.name } : {}),
          ...(heights ? { thumbnail_heights: heights } : {}),
          ...(changes.originalLink !== undefined ? { original_link: changes.originalLink } : {}),
          ...(changes.expiringLinks !== undefined ? { expiring_links: changes.expiringLinks } : {}),
          updated_at: new Date(),
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow()
      const heightsChanged = heights !== undefined && heights.join() !== before.thumbnail_heights.join()
      const backfill = heightsChanged ? await retierThumbnails(trx, { tierId: id }, { reason: 'tier_updated', tierId: id }) : undefined
      return { tier, backfill }
    })
  }

  /** Deletes a tier nobody is on; otherwise says how many users are (the users' foreign key guards a race too). */
  deleteUnused(id: number): Promise<{ deleted: boolean; users: number } | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const tier = await trx.selectFrom('tiers').select('id').where('id', '=', id).forUpdate().executeTakeFirst()
      if (!tier) return undefined
      const { users } = await trx.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('users')).where('tier_id', '=', id).executeTakeFirstOrThrow()
      if (Number(users) > 0) return { deleted: false, users: Number(users) }
      await trx.deleteFrom('tiers').where('id', '=', id).execute()
      return { deleted: true, users: 0 }
    })
  }

  private selectWithUsers() {
    return this.db
      .selectFrom('tiers')
      .selectAll('tiers')
      .select((eb) => eb.selectFrom('users').select(eb.fn.countAll<number>().as('count')).whereRef('users.tier_id', '=', 'tiers.id').as('users'))
      .$narrowType<{ users: number }>()
  }
}
