import { sql, type Kysely } from 'kysely'

/**
 * Backfills: thumbnails owed because an admin changed a tier's heights, moved a user to another
 * tier, or asked for it. The rows of a backfill are ordinary thumbnail rows tagged with its id, so
 * its progress is counted from the rows the worker already updates (Postgres stays the truth).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table backfills (
      id uuid primary key default gen_random_uuid(),
      reason text not null check (reason in ('tier_updated', 'user_moved', 'requested')),
      -- kept when the tier or user goes: the record says what happened, not what is
      tier_id integer references tiers(id) on delete set null,
      user_id uuid references users(id) on delete set null,
      -- the heights it added, ascending
      heights integer[] not null,
      images integer not null,
      created_at timestamptz not null default now()
    );
    create index backfills_created_at on backfills (created_at desc);

    alter table thumbnails add column backfill_id uuid references backfills(id) on delete set null;
    -- a backfill's progress (counts by status) and the images it still has to queue, in image order
    create index thumbnails_backfill on thumbnails (backfill_id, status, image_id) where backfill_id is not null;

    -- the admin's user list: keyset pages in email order, optionally within one tier;
    -- it serves every lookup the (tier_id) index served, so that one goes
    create index users_tier_email on users (tier_id, email);
    drop index users_tier_id;
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    create index users_tier_id on users (tier_id);
    drop index users_tier_email;
    alter table thumbnails drop column backfill_id;
    drop table backfills;
  `.execute(db)
}
