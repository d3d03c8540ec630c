import t from 'tap'
import { randomUUID } from 'node:crypto'
import { ConfigError } from '@imageapi/config'
import { createRepositories } from '@imageapi/db'
import { createScratchDatabase } from '@imageapi/db/testing'
import {
  AccountError,
  checkThumbnailHeights,
  createAccount,
  createTier,
  deleteTier,
  findAccount,
  listAccounts,
  tierRulesFromConfig,
  updateAccount,
  updateTier,
  verifyPassword,
} from '../src/index.js'

const scratch = await createScratchDatabase()
t.teardown(() => scratch.drop())
const repos = createRepositories(scratch.db)

/** The AccountError a call rejects with, so a test can check its field and reason. */
async function refusal(work: () => Promise<unknown>): Promise<AccountError> {
  const error = await work().then(() => undefined, (e: unknown) => e)
  if (!(error instanceof AccountError)) throw new Error(`expected an AccountError, got ${String(error)}`)
  return error
}

const newEmail = () => `${randomUUID().slice(0, 8)}@example.com`

t.test('thumbnail heights: 1 to 10 distinct whole numbers within configurable bounds', async (t) => {
  t.same(checkThumbnailHeights([640, 120]), [120, 640], 'stored ascending')
  const cases: Array<[number[], RegExp]> = [
    [[], /1 to 10 heights/],
    [[16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176], /1 to 10 heights \(got 11\)/],
    [[15], /from 16 to 4096 \(got 15\)/],
    [[4097], /got 4097/],
    [[200.5], /whole numbers/],
    [[200, 300, 200], /distinct \(200 is listed twice\)/],
  ]
  for (const [heights, message] of cases) {
    let error: unknown
    try {
      checkThumbnailHeights(heights)
    } catch (e) {
      error = e
    }
    t.ok(error instanceof AccountError, JSON.stringify(heights))
    t.equal((error as AccountError).field, 'thumbnail_heights')
    t.match((error as AccountError).message, message)
  }
  t.same(checkThumbnailHeights([8000], { minHeight: 100, maxHeight: 8000 }), [8000], 'bounds come from config')
  t.same(tierRulesFromConfig({ TIER_HEIGHT_MIN: 10, TIER_HEIGHT_MAX: 20 }), { minHeight: 10, maxHeight: 20 })
  t.throws(() => tierRulesFromConfig({ TIER_HEIGHT_MIN: 30, TIER_HEIGHT_MAX: 20 }), new ConfigError([{ variable: 'TIER_HEIGHT_MAX', message: 'must be at least TIER_HEIGHT_MIN (30)' }]))
})

t.test('tiers: names unique ignoring case, built-ins editable, deletion only when unused', async (t) => {
  const tier = await createTier(repos, { name: '  Gallery ', thumbnailHeights: [640, 120], originalLink: true })
  t.match(tier, { name: 'Gallery', thumbnail_heights: [120, 640], original_link: true, expiring_links: false, users: 0 })
  t.match(await refusal(() => createTier(repos, { name: 'gallery', thumbnailHeights: [100] })), { field: 'name', reason: 'conflict' })
  t.match(await refusal(() => createTier(repos, { name: ' ', thumbnailHeights: [100] })), { field: 'name', reason: 'invalid' })
  t.match(await refusal(() => createTier(repos, { name: 'x'.repeat(51), thumbnailHeights: [100] })), { field: 'name' })
  t.match(await refusal(() => createTier(repos, { name: 'Tiny', thumbnailHeights: [8] })), { field: 'thumbnail_heights' })

  const basic = (await repos.tiers.findByName('Basic'))!
  const edited = await updateTier(repos, basic.id, { thumbnailHeights: [200, 300], expiringLinks: true })
  t.match(edited.tier, { name: 'Basic', thumbnail_heights: [200, 300], expiring_links: true })
  t.equal(edited.backfill, undefined, 'no images, nothing owed')
  t.match(await refusal(() => updateTier(repos, basic.id, { name: 'PREMIUM' })), { field: 'name', reason: 'conflict' })
  t.match(await updateTier(repos, basic.id, { name: 'BASIC' }), { tier: { name: 'BASIC' } }, 'a tier may change the case of its own name')
  t.match(await refusal(() => updateTier(repos, 999_999, { name: 'x' })), { reason: 'not_found' })

  await createAccount(repos, { email: newEmail(), password: 'password', tierName: 'Gallery' })
  const inUse = await refusal(() => deleteTier(repos, tier.id))
  t.equal(inUse.reason, 'conflict')
  t.match(inUse.message, '1 user is still on tier "Gallery"; move them to another tier first')
  const spare = await createTier(repos, { name: 'Spare', thumbnailHeights: [100] })
  t.equal((await deleteTier(repos, spare.id)).name, 'Spare')
  t.match(await refusal(() => deleteTier(repos, spare.id)), { reason: 'not_found' })
})

t.test('users: changes follow the same rules as a new account, and the last admin stays', async (t) => {
  const user = await createAccount(repos, { email: newEmail(), password: 'password', tierName: 'Premium' })
  const other = await createAccount(repos, { email: newEmail(), password: 'password', tierName: 'Premium' })
  t.match(await refusal(() => createAccount(repos, { email: other.email, password: 'password', tierName: 'Premium' })), { field: 'email', reason: 'conflict' })
  t.match(await refusal(() => updateAccount(repos, user.id, { email: other.email.toUpperCase() })), { field: 'email', reason: 'conflict' })
  t.match(await refusal(() => updateAccount(repos, user.id, { email: 'nope' })), { field: 'email', reason: 'invalid' })
  t.match(await refusal(() => updateAccount(repos, user.id, { password: 'abc' })), { field: 'password' })
  t.match(await refusal(() => updateAccount(repos, user.id, { tierName: 'Gold' })), { field: 'tier', reason: 'invalid' })
  t.match(await refusal(() => updateAccount(repos, 'not-an-id', { isActive: false })), { reason: 'not_found' })
  t.match(await refusal(() => findAccount(repos, randomUUID())), { reason: 'not_found' })

  const changed = await updateAccount(repos, user.id, { email: `NEW-${user.email}`, password: 'new-password', tierName: 'Enterprise', isActive: false })
  t.match(changed.user, { email: `new-${user.email}`, tier_name: 'Enterprise', is_active: false, images: 0 })
  t.ok(await verifyPassword((await repos.users.findByEmail(changed.user.email))?.password_hash, 'new-password'), 'password re-hashed')

  const admin = await createAccount(repos, { email: newEmail(), password: 'password', tierName: 'Premium', isAdmin: true })
  t.match(await refusal(() => updateAccount(repos, admin.id, { isActive: false })), { field: 'is_active', reason: 'conflict' })
  t.match(await refusal(() => updateAccount(repos, admin.id, { isAdmin: false })), { field: 'is_admin', reason: 'conflict' })
  await updateAccount(repos, other.id, { isAdmin: true })
  t.match((await updateAccount(repos, admin.id, { isAdmin: false })).user, { is_admin: false }, 'fine once another admin exists')

  t.match(await refusal(() => listAccounts(repos, { limit: 10, tierName: 'Gold' })), { field: 'tier' })
  t.same((await listAccounts(repos, { limit: 10, tierName: 'Enterprise' })).users.map((u) => u.id), [user.id])
})
