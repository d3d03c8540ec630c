import { sql, type Kysely } from 'kysely'

/**
 * Drops the unique index on images.seq. An identity column is unique by construction (nothing
 * inserts with OVERRIDING SYSTEM VALUE, no foreign key references seq, no ON CONFLICT names it).
 * The index misled the planner: it answered an owner's keyset page by walking the global seq index
 * backwards and filtering on owner_id, so the last page of an account that owns most of the table
 * read every older row of every other account before it could stop. Without it, (owner_id, seq desc)
 * is the only index ordered by seq, and every page is a bounded range of it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table images drop constraint images_seq_key`.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table images add constraint images_seq_key unique (seq)`.execute(db)
}
