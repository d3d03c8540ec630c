import type { UserWithTier } from '@imageapi/db'
import type { ImageRejectedError } from '@imageapi/image-probe'
import type { FileProblem } from './receive-upload.js'
import { EXPIRING_LINK_SECONDS } from './expiring-links.js'
import { TITLE_MAX_LENGTH } from '../schemas/titles.js'

/**
 * The upload form of the Django API we replace, checked the way its serializers (DRF) check it:
 * every field's problems at once, keyed by field, in DRF's words, which its clients show or match.
 */

export type FieldErrors = Record<string, string[]>

/** The kinds of upload route: what each asks for. */
export type CompatRouteKind = 'small' | 'medium' | 'original' | 'custom'

/** A custom box's sides, in pixels. */
export const CUSTOM_BOX = { min: 1, max: 4096 } as const

export const DRF_MESSAGES = {
  required: 'This field is required.',
  blank: 'This field may not be blank.',
  notInteger: 'A valid integer is required.',
  nullCharacters: 'Null characters are not allowed.',
  noFile: 'No file was submitted.',
  notAFile: 'The submitted data was not a file. Check the encoding type on the form.',
  emptyFile: 'The submitted file is empty.',
  invalidImage: 'Upload a valid image. The file you uploaded was either not an image or a corrupted image.',
  noExpiryRight: 'You have no permission to use expired_time',
  maxLength: (n: number) => `Ensure this field has no more than ${n} characters.`,
  minValue: (n: number) => `Ensure this value is greater than or equal to ${n}.`,
  maxValue: (n: number) => `Ensure this value is less than or equal to ${n}.`,
  // their /small/ serializer names the field differently in its message; clients may match either text
  expiryRange: (kind: CompatRouteKind) =>
    `${kind === 'small' ? 'Expired_at' : 'Expired_time'} must be number between ${EXPIRING_LINK_SECONDS.min} and ${EXPIRING_LINK_SECONDS.max}`,
} as const

export interface CompatFormValues {
  title: string
  /** Seconds until the link expires; undefined for a link that does not. */
  expiresInSeconds?: number
  /** The custom box; only for `custom`. */
  box?: { width: number; height: number }
}

export type CheckedCompatForm = { ok: true; values: CompatFormValues } | { ok: false; errors: FieldErrors; status: 400 | 413 }

/** DRF's IntegerField: surrounding spaces and a zero fraction ("300.0") are accepted. */
function parseInteger(value: string): number | undefined {
  const text = value.trim().replace(/\.0*$/, '')
  return /^[-+]?\d{1,15}$/.test(text) ? Number(text) : undefined
}

function checkTitle(value: string | undefined): { title?: string; error?: string } {
  if (value === undefined) return { error: DRF_MESSAGES.required }
  // DRF trims surrounding whitespace before checking for blank
  const title = value.trim()
  if (title === '') return { error: DRF_MESSAGES.blank }
  if (title.includes('\u0000')) return { error: DRF_MESSAGES.nullCharacters }
  // eslint-disable-next-line no-control-regex
  if (/[\u0001-\u001f\u007f]/.test(title)) return { error: 'This field may not contain control characters.' }
  if ([...title].length > TITLE_MAX_LENGTH) return { error: DRF_MESSAGES.maxLength(TITLE_MAX_LENGTH) }
  return { title }
}

function checkBoxSide(value: string | undefined): { side?: number; error?: string } {
  if (value === undefined) return { error: DRF_MESSAGES.required }
  const side = parseInteger(value)
  if (side === undefined) return { error: DRF_MESSAGES.notInteger }
  if (side < CUSTOM_BOX.min) return { error: DRF_MESSAGES.minValue(CUSTOM_BOX.min) }
  if (side > CUSTOM_BOX.max) return { error: DRF_MESSAGES.maxValue(CUSTOM_BOX.max) }
  return { side }
}

/** An empty string means "no expiry", as there. The right comes from the tier, as every right does. */
function checkExpiry(value: string | undefined, kind: CompatRouteKind, account: UserWithTier): { seconds?: number; error?: string } {
  if (value === undefined || value === '') return {}
  const seconds = parseInteger(value)
  if (seconds === undefined) return { error: DRF_MESSAGES.notInteger }
  if (!account.tier.expiring_links) return { error: DRF_MESSAGES.noExpiryRight }
  if (seconds < EXPIRING_LINK_SECONDS.min || seconds > EXPIRING_LINK_SECONDS.max) return { error: DRF_MESSAGES.expiryRange(kind) }
  return { seconds }
}

function imageRejectionMessage(error: ImageRejectedError, filename: string): string {
  if (error.code === 'empty') return filename === '' ? DRF_MESSAGES.noFile : DRF_MESSAGES.emptyFile
  if (error.code === 'unsupported_format' || error.code === 'invalid_image') return DRF_MESSAGES.invalidImage
  // our byte and pixel limits have no counterpart there: say which one, in their shape
  return error.message
}

function checkImage(hasFile: boolean, problem: FileProblem | undefined): { error?: string; overLimit?: boolean } {
  if (problem?.kind === 'rejected') {
    const overLimit = problem.error.code === 'too_large' || problem.error.code === 'too_many_pixels'
    return { error: imageRejectionMessage(problem.error, problem.filename), overLimit }
  }
  if (problem?.kind === 'not_a_file') return { error: DRF_MESSAGES.notAFile }
  if (!hasFile) return { error: DRF_MESSAGES.noFile }
  return {}
}

/** Checks every field of an upload form; the file itself was checked while it streamed in. */
export function checkCompatForm(
  kind: CompatRouteKind,
  account: UserWithTier,
  form: { fields: Record<string, string>; hasFile: boolean; problem?: FileProblem },
): CheckedCompatForm {
  const errors: FieldErrors = {}
  const title = checkTitle(form.fields.title)
  if (title.error) errors.title = [title.error]
  const image = checkImage(form.hasFile, form.problem)
  if (image.error) errors.image = [image.error]
  const expiry = checkExpiry(form.fields.expired_time, kind, account)
  if (expiry.error) errors.expired_time = [expiry.error]
  let box: CompatFormValues['box']
  if (kind === 'custom') {
    const height = checkBoxSide(form.fields.height)
    const width = checkBoxSide(form.fields.width)
    if (height.error) errors.height = [height.error]
    if (width.error) errors.width = [width.error]
    if (height.side !== undefined && width.side !== undefined) box = { width: width.side, height: height.side }
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors, status: image.overLimit ? 413 : 400 }
  return {
    ok: true,
    values: { title: title.title!, ...(expiry.seconds !== undefined ? { expiresInSeconds: expiry.seconds } : {}), ...(box ? { box } : {}) },
  }
}
