import { sql, type Kysely } from 'kysely'

/** The built-in tiers. This is the only place their names and rights are written down. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    insert into tiers (name, thumbnail_heights, original_link, expiring_links) values
      ('Basic', '{200}', false, false),
      ('Premium', '{200,400}', true, false),
      ('Enterprise', '{200,400}', true, true)
    on conflict (name) do nothing
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from tiers where name in ('Basic', 'Premium', 'Enterprise')`.execute(db)
}
