import { sql, type Kysely } from 'kysely'

/**
 * Renditions: every thumbnail is made in its source format (its `thumbnails` row) and, next to it,
 * in each enabled rendition format (WebP, AVIF), from the same decode. A rendition owed is a row,
 * like a thumbnail: Postgres stays the truth about what the worker owes.
 *
 * - `rendition_formats` holds the settings: which formats are made, at what quality and effort.
 *   Defaults were measured on photographs (BENCHMARKS.md, "Rendition formats").
 * - A new thumbnail row owes one rendition per enabled format: a statement trigger adds them, so
 *   every path that makes a thumbnail owed (upload, compat box, re-tiering, backfill) owes its
 *   renditions too without restating the rule.
 * - Enabling a format later makes existing thumbnails owe it: that is a backfill (`format` set),
 *   whose rendition rows carry its id so its progress is counted from them.
 * - A rendition's object is recorded for removal when its row goes, whatever removed it (an image
 *   deleted, a pending height dropped), by a trigger into the object_deletions outbox.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table rendition_formats (
      format text primary key check (format in ('webp', 'avif')),
      enabled boolean not null,
      quality integer not null check (quality between 1 and 100),
      -- sharp's ranges: WebP 0–6, AVIF 0–9
      effort integer not null check (effort between 0 and 9 and (format <> 'webp' or effort <= 6)),
      updated_at timestamptz not null default now()
    );
    -- measured on photographs (BENCHMARKS.md): the lowest quality at least as close to the
    -- uncompressed pixels (SSIM) as the JPEG q80 thumbnail; AVIF costs ~4× the whole source-format
    -- path's CPU per image for ~10% fewer bytes than WebP, so it is off until an admin turns it on
    insert into rendition_formats (format, enabled, quality, effort) values
      ('webp', true, 80, 4),
      ('avif', false, 64, 2);

    alter table backfills drop constraint backfills_reason_check;
    alter table backfills add constraint backfills_reason_check check (reason in ('tier_updated', 'user_moved', 'requested', 'format_enabled'));
    -- the rendition format a 'format_enabled' backfill made owed
    alter table backfills add column format text references rendition_formats(format);

    create table renditions (
      image_id uuid not null,
      height integer not null,
      format text not null references rendition_formats(format),
      status text not null default 'pending' check (status in ('pending', 'ready', 'failed')),
      object_key text,
      bytes integer,
      error text,
      backfill_id uuid references backfills(id) on delete set null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (image_id, height, format),
      foreign key (image_id, height) references thumbnails(image_id, height) on delete cascade
    );
    create index renditions_pending on renditions (updated_at) where status = 'pending';
    create index renditions_backfill on renditions (backfill_id, status, image_id) where backfill_id is not null;

    create function thumbnails_owe_renditions() returns trigger language plpgsql as $$
    begin
      -- not tagged with the thumbnail's backfill: a re-tiering's progress counts its thumbnails,
      -- whose renditions the same job makes
      insert into renditions (image_id, height, format)
      select added.image_id, added.height, rendition_formats.format
      from added cross join rendition_formats
      where rendition_formats.enabled
      on conflict do nothing;
      return null;
    end $$;
    create trigger thumbnails_owe_renditions after insert on thumbnails
      referencing new table as added for each statement execute function thumbnails_owe_renditions();

    create function renditions_record_object_deletions() returns trigger language plpgsql as $$
    begin
      insert into object_deletions (object_key)
      select removed.object_key from removed where removed.object_key is not null
      on conflict do nothing;
      return null;
    end $$;
    create trigger renditions_record_object_deletions after delete on renditions
      referencing old table as removed for each statement execute function renditions_record_object_deletions();

    -- a ThumbHash of the image (a few dozen bytes), made by the worker from pixels it decodes anyway
    alter table images add column placeholder bytea;
    -- links pinned to one format of a thumbnail (null: negotiated by Accept, or the original)
    alter table links add column format text check (format in ('png', 'jpeg', 'webp', 'avif'));
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table links drop column format;
    alter table images drop column placeholder;
    drop table renditions;
    drop function renditions_record_object_deletions;
    drop trigger thumbnails_owe_renditions on thumbnails;
    drop function thumbnails_owe_renditions;
    delete from backfills where reason = 'format_enabled';
    alter table backfills drop column format;
    alter table backfills drop constraint backfills_reason_check;
    alter table backfills add constraint backfills_reason_check check (reason in ('tier_updated', 'user_moved', 'requested'));
    drop table rendition_formats;
  `.execute(db)
}
