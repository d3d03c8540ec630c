import t from 'tap'
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { grantsThumbnail } from '@imageapi/media'
import { createRepositories } from '../src/index.js'
import { thumbnailGrantedSql } from '../src/repositories/grants.js'
import { createScratchDatabase } from '../src/testing.js'

// The grant rule is written once in @imageapi/media and turned into SQL here: on every combination
// of tier heights, thumbnail height and `requested`, Postgres must answer as the TypeScript does.
const scratch = await createScratchDatabase()
t.teardown(() => scratch.drop())
const repos = createRepositories(scratch.db)

t.test('the SQL fragment grants exactly the thumbnails the TypeScript rule grants', async (t) => {
  const tierHeights = [[200], [200, 400], [64, 120, 640]]
  const heights = [58, 200, 400]
  const expected = new Map<string, boolean>()
  for (const thumbnailHeights of tierHeights) {
    const tier = await repos.tiers.create({ name: `tier-${randomUUID()}`, thumbnailHeights, originalLink: false, expiringLinks: false })
    const user = await repos.users.create({ email: `${randomUUID()}@example.com`, passwordHash: 'x', tierId: tier.id })
    for (const requested of [false, true]) {
      const imageId = randomUUID()
      await scratch.db
        .insertInto('images')
        .values({ id: imageId, owner_id: user.id, title: '', format: 'jpeg', width: 40, height: 30, bytes: 100, original_key: `originals/${imageId}.jpg` })
        .execute()
      await scratch.db
        .insertInto('thumbnails')
        .values(heights.map((height) => ({ image_id: imageId, height, requested })))
        .execute()
      for (const height of heights) expected.set(`${imageId}/${height}`, grantsThumbnail({ thumbnail_heights: thumbnailHeights, original_link: false }, { height, requested }))
    }
  }

  const { rows } = await sql<{ image_id: string; height: number; granted: boolean }>`
    select thumbnails.image_id, thumbnails.height, ${thumbnailGrantedSql} as granted
    from thumbnails
    join images on images.id = thumbnails.image_id
    join users on users.id = images.owner_id
    join tiers on tiers.id = users.tier_id
  `.execute(scratch.db)
  t.equal(rows.length, expected.size)
  const answered = Object.fromEntries(rows.map((row) => [`${row.image_id}/${row.height}`, row.granted]))
  t.strictSame(answered, Object.fromEntries(expected))
  t.ok([...expected.values()].includes(true) && [...expected.values()].includes(false), 'the matrix has both answers')
})
