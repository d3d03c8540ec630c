import t from 'tap'
import fc from 'fast-check'
import { createTestUser, jpegImage, listObjectKeys, multipartBody, pngImage, type FilePart } from '@imageapi/testkit'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// Seeded and bounded: the same inputs every run. 400 keep the suite within its time on two cores;
// UPLOAD_FUZZ_RUNS=5000 (say) searches deeper.
const RUNS = Number(process.env.UPLOAD_FUZZ_RUNS ?? 400)
const SEED = 20261127

// longer than the default file timeout: hundreds of requests or more, each checked for leftovers
t.setTimeout(240_000)

const { app, env } = await buildTestGateway(t, { UPLOAD_RATE_LIMIT_PER_USER: '0', UPLOAD_RATE_LIMIT_PER_IP: '0', UPLOAD_MAX_BYTES: '200000', UPLOAD_MAX_PIXELS: '4000000' })
const user = await createTestUser(env.repos, 'Premium')
const token = (await login(app, user.email, user.password)).access
const seeds = { jpeg: await jpegImage(48, 32, { orientation: 6 }), png: await pngImage(40, 30, { alpha: true }) }

const mutatedFile = fc.oneof(
  // bytes flipped, cut, or spliced into a valid file
  fc.tuple(fc.constantFrom(seeds.jpeg, seeds.png), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 })).map(([file, flips]) => {
    const copy = Buffer.from(file)
    for (const [at, value] of flips) copy[at % copy.length] = value
    return copy
  }),
  fc.tuple(fc.constantFrom(seeds.jpeg, seeds.png), fc.nat()).map(([file, cut]) => file.subarray(0, cut % file.length)),
  // polyglots: one format's header on the other's body, or a valid file followed by another
  fc.constantFrom(
    Buffer.concat([seeds.png.subarray(0, 33), seeds.jpeg]),
    Buffer.concat([seeds.jpeg.subarray(0, 200), seeds.png]),
    Buffer.concat([seeds.jpeg, seeds.png]),
    Buffer.concat([seeds.png, Buffer.from('<?php echo 1; ?>')]),
    Buffer.concat([Buffer.from('GIF89a'), seeds.png]),
  ),
  fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)),
)

const fieldValue = fc.oneof(fc.string({ maxLength: 120 }), fc.constantFrom('', "'; drop table images; --", '<script>alert(1)</script>', '\u0000', '../../etc/passwd', '🏖'.repeat(60)))
const fileName = fc.oneof(fc.string({ maxLength: 40 }).map((s) => s.replace(/["\r\n]/g, '')), fc.constantFrom('../../etc/passwd', 'a\u0000.jpg', 'x'.repeat(1000) + '.jpg', 'photo.jpg', ''))

const form = fc.record(
  {
    title: fieldValue,
    image: fc.oneof(
      fc.record({ filename: fileName, contentType: fc.constantFrom('image/jpeg', 'image/png', 'text/plain', 'application/octet-stream'), data: mutatedFile }),
      fieldValue,
    ),
    extra: fieldValue,
  },
  { requiredKeys: [] },
)

async function counts() {
  const [images, objects, jobs] = await Promise.all([
    env.database.db.selectFrom('images').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
    listObjectKeys(env.storage),
    app.thumbnailQueue.getJobCounts('wait', 'prioritized', 'delayed', 'active', 'failed'),
  ])
  return { images: Number(images.n), objects: objects.length, jobs: Object.values(jobs).reduce((a, b) => a + b, 0) }
}

t.test(`${RUNS} mutated, truncated and polyglot uploads with random fields: never a 5xx, nothing left by a refusal`, { timeout: 300_000 }, async (t) => {
  let accepted = 0
  const statuses = new Map<number, number>()
  await fc.assert(
    fc.asyncProperty(form, async (fields) => {
      const before = await counts()
      const { body, headers } = multipartBody(fields as Record<string, string | FilePart>)
      const response = await app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, authorization: `Bearer ${token}` } })
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
      if (response.statusCode >= 500) return false
      if (!/application\/json/.test(String(response.headers['content-type']))) return false
      const answer = response.json()
      const after = await counts()
      if (response.statusCode === 201) {
        accepted++
        // accepted: stored verbatim under a key made of the image id, whatever the client's file name
        const keys = await listObjectKeys(env.storage)
        return answer.title === (fields.title ?? '') && keys.every((key) => /^originals\/[0-9a-f-]{36}\.(jpg|png)$/.test(key)) && after.images === before.images + 1
      }
      return typeof answer.message === 'string' && answer.message.length > 0 && after.images === before.images && after.objects === before.objects && after.jobs === before.jobs
    }),
    { numRuns: RUNS, seed: SEED },
  )
  t.comment(`statuses: ${[...statuses].sort().map(([s, n]) => `${n}× ${s}`).join(', ')}; accepted ${accepted}`)
  t.pass(`${RUNS} uploads, none answered with a 5xx or left anything behind`)
})
