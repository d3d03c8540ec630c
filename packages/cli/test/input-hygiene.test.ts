import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { AccountError, hashPassword } from '@imageapi/accounts'
import { createRepositories } from '@imageapi/db'
import { createScratchDatabase } from '@imageapi/db/testing'
import { REPO_ROOT } from '@imageapi/testkit'
import { formatTable, terminalSafe, type AdminContext } from '../src/admin-context.js'
import { backfillCommand } from '../src/backfill-commands.js'
import { tiersCommand } from '../src/tier-commands.js'
import { usersCommand } from '../src/user-commands.js'

const scratch = await createScratchDatabase()
t.teardown(() => scratch.drop())
const repos = createRepositories(scratch.db)

/** The bytes a terminal must never be sent: C0 controls other than newline and tab, DEL, C1 controls. */
function unsafeBytes(output: Buffer | string): number[] {
  const bytes = Buffer.isBuffer(output) ? output : Buffer.from(output)
  const text = bytes.toString('utf8')
  const found: number[] = []
  for (const byte of bytes) if ((byte < 0x20 && byte !== 0x0a && byte !== 0x09) || byte === 0x7f) found.push(byte)
  // C1 controls, as UTF-8 (C2 80..C2 9F) or as the raw 8-bit bytes some terminals also obey
  for (const character of text) {
    const code = character.codePointAt(0)!
    if (code >= 0x80 && code <= 0x9f) found.push(code)
  }
  return found
}

/** The commands, in process, with their output captured. */
function cli() {
  const lines: string[] = []
  const context: AdminContext = {
    databaseUrl: scratch.url,
    redisUrl: 'redis://127.0.0.1:1',
    queuePrefix: 'test-input-hygiene',
    tierRules: { minHeight: 16, maxHeight: 4096 },
    print: (line) => lines.push(line),
    progress: { write: () => {}, isTTY: false },
    pollMs: 20,
    queueTimeoutMs: 200,
  }
  return { context, lines }
}

async function refusal(work: Promise<unknown>): Promise<Error> {
  return work.then(
    () => {
      throw new Error('expected the command to fail')
    },
    (error: Error) => error,
  )
}

const ESCAPES = 'evil\u001b[2J\u001b[31mred\u001b]0;pwned\u0007\u009b31m\u007f\r\u0000\u202e@x.test'

// a row as an older version (or a direct SQL insert) may have left it: the rules refuse it now
const basic = (await repos.tiers.findByName('Basic'))!
await repos.users.create({ email: ESCAPES.replace('\u0000', ''), passwordHash: await hashPassword('secret-pw'), tierId: basic.id })

t.test('terminalSafe writes every control character as an escape', async (t) => {
  t.equal(terminalSafe('a\u001b[31mb'), 'a\\x1b[31mb')
  t.equal(terminalSafe('\u009b2J'), '\\u009b2J')
  t.equal(terminalSafe('\u0000\u007f\r\n\t'), '\\x00\\x7f\\x0d\\x0a\\x09')
  t.equal(terminalSafe('line one\nline\ttwo\u001b', '\n\t'), 'line one\nline\ttwo\\x1b', 'newlines and tabs kept where the output means them')
  t.equal(terminalSafe('abc\u202eevil'), 'abc\\u202eevil', 'a bidi override cannot reorder what follows')
  t.equal(terminalSafe('Ünïcödé ✓ tier'), 'Ünïcödé ✓ tier', 'printable text is untouched')
  let every = ''
  for (let code = 0; code <= 0xa0; code += 1) every += String.fromCharCode(code)
  t.same(unsafeBytes(terminalSafe(every)), [])
  t.same(unsafeBytes(terminalSafe(every, '\n\t')), [])
})

t.test('formatTable escapes values and lines up the escaped text', async (t) => {
  const lines = formatTable([
    ['email', 'tier'],
    [ESCAPES, 'Basic'],
    ['a@x.test', 'Premium'],
  ])
  t.same(unsafeBytes(lines.join('\n')), [])
  t.match(lines[1], /^evil\\x1b\[2J\\x1b\[31mred\\x1b\]0;pwned\\x07\\u009b31m\\x7f\\x0d\\x00\\u202e@x\.test {2}Basic$/)
  t.equal(lines[0]!.indexOf('tier'), lines[2]!.indexOf('Premium'), 'columns line up')
  t.equal(lines[1]!.indexOf('Basic'), lines[2]!.indexOf('Premium'))
})

t.test('users list prints a stored email with ESC sequences escaped', async (t) => {
  const run = cli()
  await usersCommand(['list', '--tier', 'basic'], run.context)
  t.equal(run.lines.length, 2)
  t.same(unsafeBytes(run.lines.join('\n')), [])
  t.match(run.lines[1], /^evil\\x1b\[2j\\x1b\[31mred\\x1b\]0;pwned\\x07\\u009b31m\\x7f\\x0d\\u202e@x\.test\s+Basic\s+no\s+yes\s+0$/)
})

t.test('tier names are case-insensitive from the CLI: users create/list/update, tiers, backfill', async (t) => {
  const run = cli()
  await usersCommand(['create', '--email', 'Cased@Example.com', '--password', 'secret-pw', '--tier', 'premium'], run.context)
  t.same(run.lines, ['created user cased@example.com on tier Premium'], 'the tier as it is named')
  t.equal((await repos.users.findWithTier((await repos.users.findByEmail('cased@example.com'))!.id))?.tier.name, 'Premium')

  const list = cli()
  await usersCommand(['list', '--tier', 'PREMIUM'], list.context)
  t.match(list.lines, [/^email\s+tier/, /^cased@example\.com\s+Premium\s+no\s+yes\s+0$/])
  t.equal(list.lines.length, 2)

  const move = cli()
  await usersCommand(['update', 'CASED@example.com', '--tier', 'enterprise'], move.context)
  t.equal(move.lines[0], 'updated cased@example.com: tier Enterprise, admin no, active yes')

  const tiers = cli()
  await tiersCommand(['update', 'enterprise', '--expiring-links', 'yes'], tiers.context)
  t.match(tiers.lines[0], /^updated tier Enterprise: /)
  t.match(await refusal(tiersCommand(['create', '--name', 'PREMIUM', '--heights', '100'], tiers.context)), { field: 'name', reason: 'conflict' })

  const backfill = cli()
  await backfillCommand(['--tier', 'eNtErPrIsE'], backfill.context)
  t.same(backfill.lines, ['every image on tier Enterprise has its thumbnails; nothing to backfill'])

  t.match(await refusal(usersCommand(['list', '--tier', 'gold'], run.context)), { field: 'tier', message: 'there is no tier named "gold"' })
})

const HOSTILE_EMAILS: Array<[string, RegExp]> = [
  ['<script>alert(1)</script>@x.test', /contains < or >/],
  ['evil\u001b[2J@x.test', /contains a control character/],
  ['nul\u0000@x.test', /contains a control character/],
  [`${'a'.repeat(300)}@x.test`, /is 307 characters long \(at most 254\)/],
  ['pat@', /no domain after the @/],
  ['"A" <a@b.c>', /contains < or >/],
  ['pat @example.com', /contains a space/],
]

t.test('users create and update refuse a hostile email with the message saying why', async (t) => {
  const run = cli()
  for (const [email, reason] of HOSTILE_EMAILS) {
    const created = await refusal(usersCommand(['create', '--email', email, '--password', 'secret-pw', '--tier', 'basic'], run.context))
    t.ok(created instanceof AccountError, JSON.stringify(email))
    t.match(created, { field: 'email', message: /^email must be a plain address like name@example\.com: / })
    t.match(created.message, reason)
    const updated = await refusal(usersCommand(['update', 'cased@example.com', '--email', email], run.context))
    t.match(updated, { field: 'email', message: reason })
  }
  t.same(run.lines, [], 'nothing created or changed')
})

t.test('the imageapi command: nothing raw reaches the terminal, on stdout or stderr', async (t) => {
  const run = promisify(execFile)
  const imageapi = (...args: string[]) =>
    run(process.execPath, ['--conditions=@imageapi/source', '--import', 'tsx', 'packages/cli/src/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, DATABASE_URL: scratch.url, REDIS_URL: 'redis://127.0.0.1:1' },
      encoding: 'buffer',
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: Buffer; stderr: Buffer }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    )

  const list = await imageapi('users', 'list')
  t.equal(list.code, 0, list.stderr.toString())
  t.same(unsafeBytes(list.stdout), [], 'users list')
  t.match(list.stdout.toString(), /evil\\x1b\[2j\\x1b\[31mred/)

  // a message (not a table) that holds the stored email
  const updated = await imageapi('users', 'update', ESCAPES.replace('\u0000', '').toUpperCase(), '--admin', 'no')
  t.equal(updated.code, 0, updated.stderr.toString())
  t.same(unsafeBytes(updated.stdout), [], 'users update')
  t.match(updated.stdout.toString(), /^updated evil\\x1b\[2j.*@x\.test: tier Basic, admin no, active yes$/m)

  // error messages echo what was typed
  const unknown = await imageapi('users', 'update', 'nobody\u001b]0;pwned\u0007@x.test', '--active', 'no')
  t.equal(unknown.code, 1)
  t.same(unsafeBytes(unknown.stderr), [], 'an unknown user')
  t.match(unknown.stderr.toString(), /there is no user with email nobody\\x1b\]0;pwned\\x07@x\.test/)

  const refused = await imageapi('create-user', '--email', 'evil\u001b[2J@x.test', '--password', 'secret-pw', '--tier', 'basic')
  t.equal(refused.code, 1)
  t.same(unsafeBytes(refused.stderr), [])
  t.match(refused.stderr.toString(), 'email: email must be a plain address like name@example.com: it contains a control character')

  const usage = await imageapi('users', 'frobnicate\u001b[2J')
  t.equal(usage.code, 1)
  t.same(unsafeBytes(usage.stderr), [], 'a usage error, with the usage text after it')
  t.match(usage.stderr.toString(), /\nusage: imageapi <command>/, 'the usage keeps its lines')

  const created = await imageapi('create-user', '--email', 'Tier.Case@Example.com', '--password', 'secret-pw', '--tier', 'premium')
  t.equal(created.code, 0, created.stderr.toString())
  t.match(created.stdout.toString(), 'created user tier.case@example.com on tier Premium')
})
