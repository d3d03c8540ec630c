import { sql, type RawBuilder } from 'kysely'
import { THUMBNAIL_GRANT_CONDITIONS, type ThumbnailGrantCondition } from '@imageapi/media'

/**
 * The media model's grant rule in SQL, built from its list of conditions: one SQL condition per
 * name (a Record, so a condition added to the rule fails to compile here until it has its SQL).
 * Reads `thumbnails` and `tiers` (the owner's tier), which every query using it joins.
 */
const THUMBNAIL_GRANT_SQL: Record<ThumbnailGrantCondition, RawBuilder<boolean>> = {
  requested: sql<boolean>`thumbnails.requested`,
  height_in_tier: sql<boolean>`thumbnails.height = any(tiers.thumbnail_heights)`,
}

/** True when the owner's tier grants the thumbnail row (see grantsThumbnail in @imageapi/media). */
export const thumbnailGrantedSql: RawBuilder<boolean> = sql<boolean>`(${sql.join(
  THUMBNAIL_GRANT_CONDITIONS.map((condition) => THUMBNAIL_GRANT_SQL[condition]),
  sql` or `,
)})`
