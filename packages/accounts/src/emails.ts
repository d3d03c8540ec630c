import emailAddresses from 'email-addresses'
import { AccountError } from './errors.js'

export const EMAIL_MAX_LENGTH = 254
export const EMAIL_LOCAL_PART_MAX_LENGTH = 64

// C0 controls, DEL and C1 controls: nothing a person types into an address, and what a terminal obeys
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/
// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\u0000-\u007f]/
/** One DNS label: letters, digits and hyphens, 1 to 63 of them, no hyphen at either end. */
const DOMAIN_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

/**
 * How every email is compared and stored: surrounding spaces dropped, lower case. Creating, changing
 * and looking a user up by email (login, the CLI) all go through this one function.
 */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase()
}

function refuse(problem: string): never {
  throw new AccountError('email', `email must be a plain address like name@example.com: ${problem}`)
}

/**
 * A plain addr-spec (`local@domain`), normalized; an AccountError saying what is wrong otherwise.
 * RFC 5322's syntax is the parser's (email-addresses); on top of it, only what an account needs:
 * ASCII only (an international domain in punycode), no display name, no comments, no quoted local
 * part, no whitespace, control or markup character, local part ≤ 64 and all ≤ 254 characters,
 * and a domain name of at least two dot-separated labels (no address literal such as [192.0.2.1]).
 */
export function checkEmail(input: string): string {
  // before trimming: a newline or tab at either end is as suspect as one in the middle
  if (CONTROL_CHARACTER.test(input)) refuse('it contains a control character')
  const email = normalizeEmail(input)
  if (email === '') refuse('it is empty')
  if (email.length > EMAIL_MAX_LENGTH) refuse(`it is ${email.length} characters long (at most ${EMAIL_MAX_LENGTH})`)
  if (NON_ASCII.test(email)) refuse('it contains a non-ASCII character (write an international domain in punycode, like xn--bcher-kva.example)')
  if (/[<>]/.test(email)) refuse('it contains < or > (give the bare address, without a display name or markup)')
  if (email.includes('"')) refuse('it contains a quote (display names and quoted local parts are not accepted)')
  if (/[()]/.test(email)) refuse('it contains ( or ) (comments are not accepted)')
  if (/\s/.test(email)) refuse('it contains a space')
  const at = email.lastIndexOf('@')
  if (at === -1) refuse('it has no @')
  const local = email.slice(0, at)
  const domain = email.slice(at + 1)
  if (local === '') refuse('it has nothing before the @')
  if (domain === '') refuse('it has no domain after the @')
  if (local.length > EMAIL_LOCAL_PART_MAX_LENGTH) refuse(`the part before the @ is ${local.length} characters long (at most ${EMAIL_LOCAL_PART_MAX_LENGTH})`)
  const labels = domain.split('.')
  if (labels.length < 2 || !labels.every((label) => DOMAIN_LABEL.test(label)) || /^\d+$/.test(labels[labels.length - 1]!)) {
    refuse('the domain must be dot-separated labels of letters, digits and hyphens, like example.com')
  }
  const parsed = emailAddresses.parseOneAddress({ input: email, rfc6532: false })
  // the parser must read exactly this address, and nothing it would drop (a name, a comment, folding)
  if (!parsed || parsed.type !== 'mailbox' || parsed.name !== null || parsed.parts.comments.length > 0 || parsed.address !== email) {
    refuse('it is not a valid address (RFC 5322)')
  }
  return email
}
