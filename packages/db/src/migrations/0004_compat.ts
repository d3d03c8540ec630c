import { sql, type Kysely } from 'kysely'

/**
 * The surface compatible with the Django API we replace. An upload through it is an ordinary image;
 * this adds what that API's clients expect on top: which variant the upload route asked for (their
 * list shows one file per upload), and renditions asked for explicitly (their `custom` box) that are
 * not a height of the owner's tier.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- owed and served whatever the owner's tier grants: it was asked for by name, not given by the tier
    alter table thumbnails add column requested boolean not null default false;

    create table compat_uploads (
      image_id uuid primary key references images(id) on delete cascade,
      -- insertion order, for a stable newest-first list (as images.seq)
      seq bigint generated always as identity unique,
      owner_id uuid not null references users(id) on delete cascade,
      -- 'original' or a thumbnail height as text, as links.variant
      variant text not null check (variant = 'original' or variant ~ '^[1-9][0-9]{0,4}$'),
      -- the expiring link handed out when the upload asked for one
      link_id uuid references links(id) on delete set null,
      created_at timestamptz not null default now()
    );
    create index compat_uploads_owner_seq on compat_uploads (owner_id, seq desc);
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    drop table compat_uploads;
    alter table thumbnails drop column requested;
  `.execute(db)
}
