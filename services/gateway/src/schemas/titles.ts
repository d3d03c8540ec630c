import { ApiError } from '../plugins/app/errors.js'

export const TITLE_MAX_LENGTH = 100

/** Checks a title as a person counts it (code points), and what Postgres cannot store. */
export function validateTitle(title: string | undefined): string {
  if (title === undefined) return ''
  if ([...title].length > TITLE_MAX_LENGTH) throw new ApiError(400, `title must be at most ${TITLE_MAX_LENGTH} characters`, 'title')
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(title)) throw new ApiError(400, 'title must not contain control characters', 'title')
  return title
}
