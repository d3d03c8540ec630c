import t from 'tap'
import { createRepositories } from '@imageapi/db'
import { createScratchDatabase } from '@imageapi/db/testing'
import {
  AccountError,
  checkEmail,
  createAccount,
  createTier,
  findTierByName,
  listAccounts,
  normalizeEmail,
  requestTierBackfill,
  updateAccount,
  updateTier,
} from '../src/index.js'

const PREFIX = 'email must be a plain address like name@example.com: '

/** The AccountError a call throws or rejects with. */
async function refusal(work: () => unknown): Promise<AccountError> {
  const error = await Promise.resolve()
    .then(work)
    .then(
      () => undefined,
      (e: unknown) => e,
    )
  if (!(error instanceof AccountError)) throw new Error(`expected an AccountError, got ${String(error)}`)
  return error
}

/** Hostile or malformed emails, and the reason each must be refused with. */
export const HOSTILE_EMAILS: Array<[string, RegExp]> = [
  ['<script>alert(1)</script>@x.test', /contains < or >/],
  ['evil\u001b[2J\u001b]0;pwned\u0007@x.test', /contains a control character/],
  ['csi\u009b31m@x.test', /contains a control character/],
  ['del\u007f@x.test', /contains a control character/],
  ['nul\u0000@x.test', /contains a control character/],
  ['line\n@x.test', /contains a control character/],
  ['a@x.test\r\n', /contains a control character/],
  [`${'a'.repeat(300)}@x.test`, /is 307 characters long \(at most 254\)/],
  [`${'a'.repeat(65)}@x.test`, /before the @ is 65 characters long \(at most 64\)/],
  [`a@${'b'.repeat(64)}.test`, /the domain must be/],
  ['pat@', /no domain after the @/],
  ['pat', /has no @/],
  ['@example.com', /nothing before the @/],
  ['pat@localhost', /the domain must be/],
  ['pat@-x.test', /the domain must be/],
  ['pat@x_y.test', /the domain must be/],
  ['pat@[192.0.2.1]', /the domain must be/],
  ['pat@192.0.2.1', /the domain must be/],
  ['"A" <a@b.c>', /contains < or >/],
  ['A <a@b.c>', /contains < or >/],
  ['"quoted"@example.com', /contains a quote/],
  ['pat(comment)@example.com', /contains \( or \)/],
  ['pat @example.com', /contains a space/],
  ['pat@exa mple.com', /contains a space/],
  ['pät@example.com', /non-ASCII/],
  ['pat@bücher.example', /punycode/],
  ['pat\u202e@example.com', /non-ASCII/],
  ['', /it is empty/],
  ['   ', /it is empty/],
  ['pat..x@example.com', /not a valid address/],
  ['.pat@example.com', /not a valid address/],
  ['pat,x@example.com', /not a valid address/],
  ['pat@x@example.com', /not a valid address/],
  ['pat;x@example.com', /not a valid address/],
]

t.test('a hostile or malformed email is refused, saying what is wrong', async (t) => {
  for (const [email, reason] of HOSTILE_EMAILS) {
    const error = await refusal(() => checkEmail(email))
    t.equal(error.field, 'email', JSON.stringify(email))
    t.equal(error.reason, 'invalid', JSON.stringify(email))
    t.ok(error.message.startsWith(PREFIX), `${JSON.stringify(email)}: ${error.message}`)
    t.match(error.message, reason, JSON.stringify(email))
  }
  t.equal((await refusal(() => checkEmail('evil\u001b[31m@x.test'))).message, `${PREFIX}it contains a control character`)
})

t.test('a plain address is accepted, trimmed and lower-cased', async (t) => {
  const accepted: Array<[string, string]> = [
    ['Pat@Example.com', 'pat@example.com'],
    ['  pat@example.com  ', 'pat@example.com'],
    ['first.last+tag@sub.example.co.uk', 'first.last+tag@sub.example.co.uk'],
    ["o'brien@example.com", "o'brien@example.com"],
    ['x@xn--bcher-kva.example', 'x@xn--bcher-kva.example'],
    ['a1-b_2@a-b.c0', 'a1-b_2@a-b.c0'],
    [`${'a'.repeat(64)}@example.com`, `${'a'.repeat(64)}@example.com`],
    [`${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`, `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`],
  ]
  for (const [input, expected] of accepted) t.equal(checkEmail(input), expected, input)
  t.equal(checkEmail(accepted[7]![0]).length, 254, 'exactly 254 characters is allowed')
  t.equal(normalizeEmail('  Pat@Example.COM '), 'pat@example.com')
})

const scratch = await createScratchDatabase()
t.teardown(() => scratch.drop())
const repos = createRepositories(scratch.db)

t.test('createAccount and updateAccount use the same rules; nothing hostile is stored', async (t) => {
  for (const [email] of HOSTILE_EMAILS) {
    const error = await refusal(() => createAccount(repos, { email, password: 'password', tierName: 'Basic' }))
    t.equal(error.field, 'email', JSON.stringify(email))
  }
  const user = await createAccount(repos, { email: ' Someone@Example.COM ', password: 'password', tierName: 'Basic' })
  t.equal(user.email, 'someone@example.com')
  for (const [email, reason] of HOSTILE_EMAILS.slice(0, 8)) {
    t.match(await refusal(() => updateAccount(repos, user.id, { email })), { field: 'email', message: reason }, JSON.stringify(email))
  }
  const changed = await updateAccount(repos, user.id, { email: 'Renamed@Example.com' })
  t.equal(changed.user.email, 'renamed@example.com')
  t.equal((await listAccounts(repos, { limit: 100 })).users.filter((u) => /[<>\u0000-\u001f\u007f-\u009f]/.test(u.email)).length, 0)
})

t.test('tier names are found whatever their case, and keep the case they were given', async (t) => {
  t.equal((await findTierByName(repos, 'premium')).name, 'Premium')
  t.equal((await findTierByName(repos, 'BASIC')).name, 'Basic')
  t.equal((await findTierByName(repos, '  enterprise ')).name, 'Enterprise', 'surrounding spaces are ignored too')
  t.match(await refusal(() => findTierByName(repos, 'gold')), { field: 'tier', message: 'there is no tier named "gold"' })
  t.match(await refusal(() => findTierByName(repos, 'nul\u0000')), { field: 'tier' }, 'a NUL finds nothing (and no database error)')

  const user = await createAccount(repos, { email: 'cased@example.com', password: 'password', tierName: 'premium' })
  const listed = await listAccounts(repos, { limit: 100, tierName: 'PREMIUM' })
  t.same(
    listed.users.map((u) => [u.email, u.tier_name]),
    [['cased@example.com', 'Premium']],
  )
  const moved = await updateAccount(repos, user.id, { tierName: 'basic' })
  t.equal(moved.user.tier_name, 'Basic')
  t.same((await listAccounts(repos, { limit: 100, tierName: 'basic' })).users.map((u) => u.email).sort(), ['cased@example.com', 'renamed@example.com'])

  const mixed = await createTier(repos, { name: 'Photo Pro', thumbnailHeights: [100, 200] })
  t.equal(mixed.name, 'Photo Pro', 'stored as written')
  t.equal((await findTierByName(repos, 'photo pro')).id, mixed.id)
  t.match(await refusal(() => createTier(repos, { name: 'PHOTO PRO', thumbnailHeights: [100] })), { field: 'name', reason: 'conflict' })
  const renamed = await updateTier(repos, mixed.id, { name: 'PHOTO pro' })
  t.equal(renamed.tier.name, 'PHOTO pro', 'a tier may change the case of its own name')
  t.equal((await findTierByName(repos, 'Photo Pro')).id, mixed.id)
  const backfill = await requestTierBackfill(repos, 'photo PRO')
  t.equal(backfill.tier.id, mixed.id, 'a backfill names its tier in any case too')
})

t.test('should two tiers differ only in case (made before the rule), the exact spelling wins', async (t) => {
  const lower = await repos.tiers.create({ name: 'legacy', thumbnailHeights: [100], originalLink: false, expiringLinks: false })
  const upper = await repos.tiers.create({ name: 'Legacy', thumbnailHeights: [100], originalLink: false, expiringLinks: false })
  t.equal((await findTierByName(repos, 'legacy')).id, lower.id)
  t.equal((await findTierByName(repos, 'Legacy')).id, upper.id)
  t.equal((await findTierByName(repos, 'LEGACY')).id, lower.id, 'otherwise the first made')
})
