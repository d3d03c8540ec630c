import type { Kysely } from 'kysely'
import type { Database, Session, SessionEndReason } from '../schema.js'

export interface NewSession {
  userId: string
  refreshJti: string
  expiresAt: Date
  userAgent: string | null
  address: string | null
  now: Date
}

/** A session as its user sees it in the list. */
export type SessionSummary = Pick<Session, 'id' | 'created_at' | 'last_used_at' | 'user_agent' | 'address'>

export interface SessionPage {
  sessions: SessionSummary[]
  /** Position of the last session on the page when more may follow. */
  next: { createdAt: Date; id: string } | null
}

/**
 * What became of a refresh: `rotated` (the token was the session's current one; it is used now),
 * `reused` (it was an earlier, already rotated token: the session has just been ended), or `ended`
 * (no such live session of that user).
 */
export type RotateResult = { outcome: 'rotated'; session: Session } | { outcome: 'reused' | 'ended' }

export class SessionsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  create(session: NewSession): Promise<Session> {
    return this.db
      .insertInto('sessions')
      .values({
        user_id: session.userId,
        refresh_jti: session.refreshJti,
        expires_at: session.expiresAt,
        user_agent: session.userAgent,
        address: session.address,
        // the caller's clock, to the millisecond: list cursors round-trip exactly
        created_at: session.now,
        last_used_at: session.now,
      })
      .returningAll()
      .executeTakeFirstOrThrow()
  }

  /**
   * Rotates a session's refresh token from `fromJti` to `toJti`, atomically: of two refreshes with
   * the same token, one rotates and the other is a reuse. A reuse ends the session (theft detection).
   */
  rotate(change: { id: string; userId: string; fromJti: string; toJti: string; expiresAt: Date; now: Date }): Promise<RotateResult> {
    return this.db.transaction().execute(async (trx): Promise<RotateResult> => {
      const current = await trx
        .selectFrom('sessions')
        .select(['refresh_jti', 'ended_at', 'expires_at'])
        .where('id', '=', change.id)
        .where('user_id', '=', change.userId)
        .forUpdate()
        .executeTakeFirst()
      if (!current || current.ended_at !== null || current.expires_at <= change.now) return { outcome: 'ended' }
      if (current.refresh_jti !== change.fromJti) {
        await trx
          .updateTable('sessions')
          .set({ ended_at: change.now, ended_reason: 'refresh_reused' })
          .where('id', '=', change.id)
          .execute()
        return { outcome: 'reused' }
      }
      const session = await trx
        .updateTable('sessions')
        .set({ refresh_jti: change.toJti, expires_at: change.expiresAt, last_used_at: change.now })
        .where('id', '=', change.id)
        .returningAll()
        .executeTakeFirstOrThrow()
      return { outcome: 'rotated', session }
    })
  }

  /** Ends one live session of a user; false when the user has no such live session. */
  async end(id: string, userId: string, reason: SessionEndReason, now: Date): Promise<boolean> {
    const result = await this.db
      .updateTable('sessions')
      .set({ ended_at: now, ended_reason: reason })
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .where('ended_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst()
    return result.numUpdatedRows > 0n
  }

  /** Ends every session of a user still open; how many it ended. */
  async endAllForUser(userId: string, reason: SessionEndReason, now: Date): Promise<number> {
    const result = await this.db
      .updateTable('sessions')
      .set({ ended_at: now, ended_reason: reason })
      .where('user_id', '=', userId)
      .where('ended_at', 'is', null)
      .executeTakeFirst()
    return Number(result.numUpdatedRows)
  }

  findById(id: string): Promise<Session | undefined> {
    return this.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst()
  }

  /** A user's live (not ended, not expired) sessions, newest first, a keyset page at a time. */
  async listLive(userId: string, options: { limit: number; now: Date; after?: { createdAt: Date; id: string } }): Promise<SessionPage> {
    let query = this.db
      .selectFrom('sessions')
      .select(['id', 'created_at', 'last_used_at', 'user_agent', 'address'])
      .where('user_id', '=', userId)
      .where('ended_at', 'is', null)
      .where('expires_at', '>', options.now)
    if (options.after) {
      const { createdAt, id } = options.after
      query = query.where((eb) => eb.or([eb('created_at', '<', createdAt), eb.and([eb('created_at', '=', createdAt), eb('id', '<', id)])]))
    }
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit + 1).execute()
    const sessions = rows.slice(0, options.limit)
    const last = sessions[sessions.length - 1]
    return { sessions, next: rows.length > options.limit && last ? { createdAt: last.created_at, id: last.id } : null }
  }
}
