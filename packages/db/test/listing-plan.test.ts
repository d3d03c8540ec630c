import t from 'tap'
import pg from 'pg'
import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely'
import { createRepositories, ImagesRepository, type Database } from '../src/index.js'
import { createScratchDatabase } from '../src/testing.js'

const scratch = await createScratchDatabase()
t.teardown(() => scratch.drop())
const repos = createRepositories(scratch.db)

// The repository's own statements, captured as it sends them, so the plan checked is the one it gets.
const sent: CompiledQuery[] = []
const pool = new pg.Pool({ connectionString: scratch.url, max: 1 })
const recordingDb = new Kysely<Database>({
  dialect: new PostgresDialect({ pool }),
  log: (event) => {
    if (event.level === 'query') sent.push(event.query)
  },
})
t.teardown(() => recordingDb.destroy())

async function makeUser() {
  const tier = await repos.tiers.findByName('Premium')
  return repos.users.create({ email: `${Math.random().toString(36).slice(2)}@example.com`, passwordHash: 'x', tierId: tier!.id })
}

async function seedImages(ownerId: string, count: number): Promise<void> {
  await sql`
    insert into images (id, owner_id, title, format, width, height, bytes, original_key)
    select gen_random_uuid(), ${ownerId}, 'Photo ' || g, 'jpeg', 40, 30, 100, 'originals/' || g
    from generate_series(1, ${count}::int) as g
    order by g
  `.execute(scratch.db)
}

interface PlanNode {
  'Node Type': string
  'Index Name'?: string
  'Rows Removed by Filter'?: number
  Plans?: PlanNode[]
}

function nodesOf(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodesOf)]
}

function describePlan(plan: PlanNode[]): string {
  return plan.map((node) => node['Node Type'] + (node['Index Name'] ? ` using ${node['Index Name']}` : '')).join(' → ')
}

/** The plan Postgres runs for the page query listByOwner sends (its first statement), with its parameters. */
async function planOfPage(ownerId: string, options: { limit: number; afterSeq?: number }): Promise<PlanNode[]> {
  sent.length = 0
  await new ImagesRepository(recordingDb).listByOwner(ownerId, options)
  const pageQuery = sent.find((query) => /from "images"/.test(query.sql))
  if (!pageQuery) throw new Error(`no images query among: ${sent.map((query) => query.sql).join('; ')}`)
  const { rows } = await pool.query(`explain (analyze, format json) ${pageQuery.sql}`, [...pageQuery.parameters])
  return nodesOf(rows[0]['QUERY PLAN'][0].Plan)
}

// An older account, then one that owns most of the table: the shape where walking a global seq
// index backwards reads the older account's rows before the big account's last page can stop.
const older = await makeUser()
const dominant = await makeUser()
await seedImages(older.id, 2_000)
await seedImages(dominant.id, 4_000)
await sql`analyze images`.execute(scratch.db)

t.test('images.seq has no unique index of its own, and identity still numbers rows apart', async (t) => {
  const { rows } = await sql<{ indexname: string }>`select indexname from pg_indexes where tablename = 'images' order by indexname`.execute(scratch.db)
  t.same(rows.map((row) => row.indexname), ['images_owner_seq', 'images_pkey'])
  const { rows: counted } = await sql<{ all: number; distinct: number }>`select count(*)::int as all, count(distinct seq)::int as distinct from images`.execute(scratch.db)
  t.equal(counted[0]!.distinct, counted[0]!.all)
})

t.test("an owner's first page walks images_owner_seq", async (t) => {
  const plan = await planOfPage(dominant.id, { limit: 20 })
  t.ok(plan.some((node) => node['Index Name'] === 'images_owner_seq'), describePlan(plan))
  t.notOk(plan.some((node) => node['Node Type'] === 'Seq Scan'), 'no sequential scan')
})

t.test("the dominant owner's last page reads only its own rows", async (t) => {
  const { rows } = await sql<{ seq: number }>`select seq from images where owner_id = ${dominant.id} order by seq asc offset 9 limit 1`.execute(scratch.db)
  const plan = await planOfPage(dominant.id, { limit: 20, afterSeq: rows[0]!.seq })
  t.ok(plan.some((node) => node['Index Name'] === 'images_owner_seq'), describePlan(plan))
  t.same(
    plan.filter((node) => (node['Rows Removed by Filter'] ?? 0) > 0),
    [],
    'no rows of the older account read and thrown away',
  )
  const page = await repos.images.listByOwner(dominant.id, { limit: 20, afterSeq: rows[0]!.seq })
  t.equal(page.images.length, 9)
  t.equal(page.nextAfterSeq, null)
})
