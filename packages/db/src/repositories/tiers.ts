import type { Kysely } from 'kysely'
import type { Database, Tier } from '../schema.js'

export class TiersRepository {
  constructor(private readonly db: Kysely<Database>) {}

  findByName(name: string): Promise<Tier | undefined> {
    return this.db.selectFrom('tiers').selectAll().where('name', '=', name).executeTakeFirst()
  }

  findById(id: number): Promise<Tier | undefined> {
    return this.db.selectFrom('tiers').selectAll().where('id', '=', id).executeTakeFirst()
  }

  list(): Promise<Tier[]> {
    return this.db.selectFrom('tiers').selectAll().orderBy('id').execute()
  }
}
