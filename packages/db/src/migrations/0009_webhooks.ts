import { sql, type Kysely } from 'kysely'

/**
 * Webhook endpoints and their deliveries (issue 17).
 *
 * - An endpoint belongs to a user (gone with them), names the events it wants and holds its
 *   Standard Webhooks secret (`whsec_…`). Rotating keeps the previous secret for a while
 *   (`previous_secret_expires_at`), so deliveries are signed with both and receivers can switch
 *   over: the specification allows several `v1,` signatures in one header.
 * - `consecutive_failures` / `failing_since` count deliveries that failed after all their retries
 *   since the last one delivered; past a limit the endpoint is disabled with `disabled_reason`.
 * - A delivery is one event for one endpoint. Its `message_id` is the `webhook-id` header, kept
 *   across retries so receivers can deduplicate; `payload` is the envelope that is signed and sent.
 *   `next_attempt_at` is set exactly while it is `pending` (when the dispatcher should send it).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table webhook_endpoints (
      id uuid primary key default gen_random_uuid(),
      owner_id uuid not null references users(id) on delete cascade,
      url text not null check (length(url) between 1 and 2048),
      events text[] not null check (cardinality(events) > 0),
      description text check (length(description) <= 256),
      secret text not null,
      previous_secret text,
      previous_secret_expires_at timestamptz,
      enabled boolean not null default true,
      disabled_reason text check (length(disabled_reason) <= 1024),
      consecutive_failures integer not null default 0 check (consecutive_failures >= 0),
      failing_since timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      check ((previous_secret is null) = (previous_secret_expires_at is null))
    );
    -- a user's endpoints (the list, the cap, the events they subscribed to)
    create index webhook_endpoints_owner on webhook_endpoints (owner_id, created_at, id);

    create table webhook_deliveries (
      id uuid primary key default gen_random_uuid(),
      endpoint_id uuid not null references webhook_endpoints(id) on delete cascade,
      -- the webhook-id header: one per event and endpoint, the same on every retry
      message_id text not null check (message_id ~ '^[A-Za-z0-9_-]{1,128}$'),
      event_type text not null,
      payload jsonb not null,
      status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
      attempts integer not null default 0 check (attempts >= 0),
      last_status_code integer,
      last_latency_ms integer check (last_latency_ms >= 0),
      last_error text check (length(last_error) <= 1024),
      next_attempt_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      delivered_at timestamptz,
      unique (endpoint_id, message_id),
      check ((status = 'pending') = (next_attempt_at is not null))
    );
    -- an endpoint's deliveries, newest first (keyset pages)
    create index webhook_deliveries_endpoint on webhook_deliveries (endpoint_id, created_at desc, id desc);
    -- the dispatcher's scan: pending deliveries that are due
    create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
  `.execute(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    drop table webhook_deliveries;
    drop table webhook_endpoints;
  `.execute(db)
}
