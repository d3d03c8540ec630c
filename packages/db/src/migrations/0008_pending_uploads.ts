import { sql, type Kysely } from 'kysely'

/**
 * Uploads whose bytes go straight to storage (issue 16): a direct upload (one presigned PUT, then
 * `complete`) or a resumable one (TUS). The row exists from the moment the client is allowed to
 * write until the upload becomes an image (its id becomes the image's id, in the same transaction
 * that inserts the image) or is swept after `expires_at` with its staged object.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table pending_uploads (
      id uuid primary key,
      owner_id uuid not null references users(id) on delete cascade,
      kind text not null check (kind in ('direct', 'resumable')),
      title text not null default '',
      -- what the client declared (direct uploads); the file is still checked against it on completion
      format text check (format in ('png', 'jpeg')),
      bytes bigint not null check (bytes > 0),
      -- where the client's bytes are staged: never an image's own key
      object_key text not null unique,
      -- after this the upload is abandoned: it can no longer be completed and is swept
      expires_at timestamptz not null,
      created_at timestamptz not null default now()
    );
    -- counting a user's pending uploads (the cap), and the sweeper's scan
    create index pending_uploads_owner on pending_uploads (owner_id);
    create index pending_uploads_expiry on pending_uploads (expires_at);
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table pending_uploads`.execute(db)
}
