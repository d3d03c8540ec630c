import { sql, type Kysely } from 'kysely'

/**
 * Sessions (issue 18): a sign-in is a row, so it can be listed, ended one at a time, or all at once.
 *
 * - A refresh token carries its session's id (`sid`) and its own id (`jti`). Refreshing rotates:
 *   the session's `refresh_jti` moves to the new token's id, so every earlier token of the session
 *   is "used". A used one presented again means it was copied: the whole session ends
 *   (`refresh_reused`), the thief's and the owner's tokens alike.
 * - `expires_at` follows the current refresh token's expiry (it slides on every refresh), so live
 *   sessions are those neither ended nor expired.
 * - `users.token_version` is a claim (`ver`) of every access and refresh token; it is bumped when
 *   the password changes, on deactivation and on "sign out everywhere", so every token issued
 *   before stops working at once (checked against the user row already read per request).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table users add column token_version integer not null default 0;

    create table sessions (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null references users(id) on delete cascade,
      -- the id of the one refresh token of this session that may still be used
      refresh_jti uuid not null,
      created_at timestamptz not null default now(),
      last_used_at timestamptz not null default now(),
      expires_at timestamptz not null,
      -- as the client sent it, truncated
      user_agent text check (length(user_agent) <= 512),
      address text check (length(address) <= 64),
      ended_at timestamptz,
      ended_reason text check (ended_reason in ('logout', 'revoked', 'refresh_reused', 'password_changed', 'deactivated', 'signed_out_everywhere')),
      check ((ended_at is null) = (ended_reason is null))
    );
    -- a user's live sessions, newest first (the list, and ending them all)
    create index sessions_user_live on sessions (user_id, created_at desc, id desc) where ended_at is null;
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    drop table sessions;
    alter table users drop column token_version;
  `.execute(db)
}
