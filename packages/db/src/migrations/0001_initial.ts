import { sql, type Kysely } from 'kysely'

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table tiers (
      id serial primary key,
      name text not null unique,
      thumbnail_heights integer[] not null,
      original_link boolean not null default false,
      expiring_links boolean not null default false,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );

    create table users (
      id uuid primary key default gen_random_uuid(),
      email text not null unique check (email = lower(email)),
      password_hash text not null,
      tier_id integer not null references tiers(id),
      is_admin boolean not null default false,
      is_active boolean not null default true,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    create index users_tier_id on users (tier_id);

    create table images (
      id uuid primary key,
      -- insertion order: an exact, gap-tolerant key for keyset pagination (timestamps tie and lose precision in JS)
      seq bigint generated always as identity unique,
      owner_id uuid not null references users(id) on delete cascade,
      title text not null default '',
      format text not null check (format in ('png', 'jpeg')),
      width integer not null,
      height integer not null,
      bytes bigint not null,
      original_key text not null,
      created_at timestamptz not null default now()
    );
    -- keyset pagination of one owner's images, newest first
    create index images_owner_seq on images (owner_id, seq desc);

    create table thumbnails (
      image_id uuid not null references images(id) on delete cascade,
      height integer not null,
      width integer,
      status text not null default 'pending' check (status in ('pending', 'ready', 'failed')),
      object_key text,
      bytes integer,
      error text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (image_id, height)
    );
    -- the reconciler looks only at what is still owed
    create index thumbnails_pending on thumbnails (updated_at) where status = 'pending';

    create table links (
      id uuid primary key default gen_random_uuid(),
      image_id uuid not null references images(id) on delete cascade,
      variant text not null,
      expires_at timestamptz not null,
      revoked_at timestamptz,
      created_at timestamptz not null default now()
    );
    create index links_image_id on links (image_id, created_at desc);

    create table object_deletions (
      object_key text primary key,
      created_at timestamptz not null default now()
    );
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table object_deletions, links, thumbnails, images, users, tiers`.execute(db)
}
