import t from 'tap'
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { AccountError } from '@imageapi/accounts'
import { createRepositories } from '@imageapi/db'
import { createScratchDatabase } from '@imageapi/db/testing'
import { createThumbnailQueue, Priority, thumbnailJobId } from '@imageapi/queue'
import { REPO_ROOT, waitFor } from '@imageapi/testkit'
import { UsageError, type AdminContext } from '../src/admin-context.js'
import { backfillCommand, progressBar } from '../src/backfill-commands.js'
import { tiersCommand } from '../src/tier-commands.js'
import { usersCommand } from '../src/user-commands.js'

const scratch = await createScratchDatabase()
t.teardown(() => scratch.drop())
const repos = createRepositories(scratch.db)
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const queuePrefix = `test-cli-${randomUUID().slice(0, 8)}`
const queue = createThumbnailQueue({ redisUrl, prefix: queuePrefix })
t.teardown(async () => {
  await queue.obliterate({ force: true })
  await queue.close()
})

/** The commands, in process, with their output captured. */
function cli(overrides: Partial<AdminContext> = {}) {
  const lines: string[] = []
  const drawn: string[] = []
  const context: AdminContext = {
    databaseUrl: scratch.url,
    redisUrl,
    queuePrefix,
    tierRules: { minHeight: 16, maxHeight: 4096 },
    print: (line) => lines.push(line),
    progress: { write: (text) => drawn.push(text), isTTY: false },
    pollMs: 20,
    queueTimeoutMs: 2_000,
    ...overrides,
  }
  return { context, lines, drawn }
}

async function refusal(work: Promise<unknown>): Promise<Error> {
  return work.then(
    () => {
      throw new Error('expected the command to fail')
    },
    (error: Error) => error,
  )
}

t.test('the progress bar counts settled thumbnails, failed ones too', async (t) => {
  t.equal(progressBar({ done: 0, failed: 0, total: 4 }, 8), '[--------] 0/4 thumbnails')
  t.equal(progressBar({ done: 1, failed: 1, total: 4 }, 8), '[####----] 2/4 thumbnails (1 failed)')
  t.equal(progressBar({ done: 0, failed: 0, total: 0 }, 8), '[########] 0/0 thumbnails')
})

t.test('tiers: create, list, update, delete with the API’s rules', async (t) => {
  const run = cli()
  await tiersCommand(['create', '--name', 'Gallery', '--heights', '640,120', '--original-link', 'yes'], run.context)
  t.same(run.lines, ['created tier Gallery: 120, 640 px, original yes, expiring links no'])

  await tiersCommand(['list'], run.context)
  t.match(run.lines[1], /^id\s+name\s+heights\s+original\s+expiring\s+users$/)
  t.ok(run.lines.some((line) => /^\d+\s+Gallery\s+120,640\s+yes\s+no\s+0$/.test(line)), 'Gallery listed')

  t.match(await refusal(tiersCommand(['create', '--name', 'gallery', '--heights', '200'], run.context)), { field: 'name', reason: 'conflict' })
  t.match(await refusal(tiersCommand(['create', '--name', 'Tiny', '--heights', '8'], run.context)), { field: 'thumbnail_heights', message: /from 16 to 4096/ })
  t.match(await refusal(tiersCommand(['create', '--name', 'Big', '--heights', '5000'], cli({ tierRules: { minHeight: 16, maxHeight: 1000 } }).context)), { message: /from 16 to 1000/ })
  t.ok((await refusal(tiersCommand(['create', '--name', 'Odd', '--heights', '120,abc'], run.context))) instanceof UsageError)
  t.ok((await refusal(tiersCommand(['create', '--name', 'Odd', '--heights', '120', '--original-link', 'perhaps'], run.context))) instanceof UsageError)
  t.ok((await refusal(tiersCommand(['update'], run.context))) instanceof UsageError)
  t.ok((await refusal(tiersCommand(['frobnicate'], run.context))) instanceof UsageError)
  t.match(await refusal(tiersCommand(['update', 'Gold', '--heights', '200'], run.context)), { field: 'tier' })

  const update = cli()
  await tiersCommand(['update', 'Gallery', '--expiring-links', 'yes'], update.context)
  t.same(update.lines, ['updated tier Gallery: 120, 640 px, original yes, expiring links yes', 'no new thumbnails owed'])
  await tiersCommand(['create', '--name', 'Spare', '--heights', '100'], run.context)
  await tiersCommand(['delete', 'Spare'], run.context)
  t.equal(await repos.tiers.findByName('Spare'), undefined)
})

t.test('users: create, list, move to a tier; the backfill is queued and watched to the end', async (t) => {
  const run = cli()
  await usersCommand(['create', '--email', 'Pat@Example.com', '--password', 'secret-pw', '--tier', 'Basic'], run.context)
  t.same(run.lines, ['created user pat@example.com on tier Basic'])
  t.match(await refusal(usersCommand(['create', '--email', 'pat@example.com', '--password', 'secret-pw', '--tier', 'Basic'], run.context)), { field: 'email', reason: 'conflict' })
  t.ok((await refusal(usersCommand(['create', '--email', 'x@example.com'], run.context))) instanceof UsageError)
  const pat = (await repos.users.findByEmail('pat@example.com'))!
  const imageId = randomUUID()
  await repos.images.createWithThumbnails({ id: imageId, owner_id: pat.id, title: '', format: 'jpeg', width: 40, height: 30, bytes: 1, original_key: `originals/${imageId}.jpg` }, [200])

  const list = cli()
  await usersCommand(['list', '--tier', 'Basic'], list.context)
  t.match(list.lines, [/^email\s+tier\s+admin\s+active\s+images$/, /^pat@example\.com\s+Basic\s+no\s+yes\s+1$/])

  // the worker's part, played once the command has queued the work and is watching it
  const move = cli()
  const rendering = (async () => {
    const job = await waitFor(() => queue.getJob(thumbnailJobId(imageId)))
    t.equal(job?.opts.priority, Priority.backfill, 'queued at backfill priority')
    await waitFor(() => move.drawn.length > 0)
    for (const height of [120, 640]) await repos.thumbnails.markReady(imageId, height, { width: height, objectKey: `k${height}`, bytes: 1 })
  })()
  await usersCommand(['update', 'PAT@example.com', '--tier', 'Gallery', '--watch'], move.context)
  await rendering
  t.equal(move.lines[0], 'updated pat@example.com: tier Gallery, admin no, active yes')
  t.match(move.lines[1], /^backfill [0-9a-f-]{36}: 120, 640 px for 1 image$/)
  t.equal(move.lines[2], 'queued 1 image at backfill priority')
  t.match(move.lines[3], /^backfill [0-9a-f-]{36} finished: 2 of 2 thumbnails made$/)
  t.equal(move.drawn[0], '[------------------------------] 0/2 thumbnails\n')
  t.equal(move.drawn.at(-1), '[##############################] 2/2 thumbnails\n')

  t.match(await refusal(usersCommand(['update', 'nobody@example.com', '--active', 'no'], run.context)), { field: 'email', reason: 'not_found' })
  const inUse = await refusal(tiersCommand(['delete', 'Gallery'], run.context))
  t.ok(inUse instanceof AccountError)
  t.equal(inUse.message, '1 user is still on tier "Gallery"; move them to another tier first')
})

t.test('backfill --tier repairs missing rows; with Redis away the reconciler is left to queue them', async (t) => {
  await scratch.db.deleteFrom('thumbnails').where('height', '=', 640).execute()
  const offline = cli({ redisUrl: 'redis://127.0.0.1:1', queueTimeoutMs: 200 })
  await backfillCommand(['--tier', 'Gallery'], offline.context)
  t.match(offline.lines[0], /^backfill [0-9a-f-]{36}: 640 px for 1 image$/)
  t.match(offline.lines[1], /^could not queue the work now .*; a worker's reconciler will queue it$/)
  t.match((await repos.backfills.listRecent(1))[0], { reason: 'requested', user_id: null, heights: [640] })

  const again = cli()
  await backfillCommand(['--tier', 'Gallery'], again.context)
  t.same(again.lines, ['every image on tier Gallery has its thumbnails; nothing to backfill'], 'the rows are there (pending): nothing missing')
  t.match(await refusal(backfillCommand([], again.context)), { message: /needs --tier/ })
  t.match(await refusal(backfillCommand(['--id', 'nope', '--watch'], again.context)), { message: /there is no backfill nope/ })
})

t.test('the imageapi command runs them, and fails with the message and exit code 1', async (t) => {
  const run = promisify(execFile)
  const imageapi = (...args: string[]) =>
    run(process.execPath, ['--conditions=@imageapi/source', '--import', 'tsx', 'packages/cli/src/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, DATABASE_URL: scratch.url, REDIS_URL: redisUrl, QUEUE_PREFIX: queuePrefix },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    )
  const [listed, refused] = await Promise.all([imageapi('tiers', 'list'), imageapi('tiers', 'delete', 'Gallery')])
  t.equal(listed.code, 0, listed.stderr)
  t.match(listed.stdout, /Gallery\s+120,640\s+yes\s+yes\s+1/)
  t.equal(refused.code, 1)
  t.equal(refused.stderr, '1 user is still on tier "Gallery"; move them to another tier first\n')
})
