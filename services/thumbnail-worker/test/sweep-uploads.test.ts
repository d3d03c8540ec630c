import { randomUUID } from 'node:crypto'
import t from 'tap'
import { createTestEnvironment, createTestUser, listObjectKeys, s3AdminClient } from '@imageapi/testkit'
import { resumableUploadSideKeys, stagedUploadKey } from '@imageapi/media'
import type { PendingUploadKind } from '@imageapi/db'
import { sweepExpiredUploads } from '../src/sweep-uploads.js'
import { memoryLogger } from './support.js'

// Uploads started and never completed (issue 16) are swept once expired: no row, no object, no
// unfinished multipart upload. The clock is moved rather than waited for.
const env = await createTestEnvironment(t)
const owner = (await createTestUser(env.repos, 'Premium')).user
const { log } = memoryLogger()
const s3 = s3AdminClient(env.s3)
const start = Date.now()
const HOUR = 3_600_000

async function stage(kind: PendingUploadKind, expiresAt: Date): Promise<string> {
  const id = randomUUID()
  const key = stagedUploadKey(id, kind)
  await env.repos.pendingUploads.create({ id, ownerId: owner.id, kind, title: '', format: kind === 'direct' ? 'png' : null, bytes: 100, objectKey: key, expiresAt }, 100)
  const bytes = Buffer.from(`staged ${id}`)
  if (kind === 'direct') {
    await env.storage.putObject(key, bytes, bytes.length, 'image/png')
  } else {
    // as @tus/s3-store leaves an upload in progress: metadata, a short tail, and an unfinished multipart upload
    for (const side of resumableUploadSideKeys(key)) await env.storage.putObject(side, bytes, bytes.length, 'application/octet-stream')
    await s3.initiateNewMultipartUpload(env.s3.bucket, key, {})
  }
  return id
}

async function incompleteUploads(): Promise<string[]> {
  const keys: string[] = []
  for await (const upload of s3.listIncompleteUploads(env.s3.bucket, '', true)) keys.push(upload.key)
  return keys
}

async function rowIds(): Promise<string[]> {
  return (await env.database.db.selectFrom('pending_uploads').select('id').orderBy('id').execute()).map((row) => row.id)
}

const direct = await stage('direct', new Date(start + HOUR))
const resumable = await stage('resumable', new Date(start + HOUR))
const later = await stage('direct', new Date(start + 3 * HOUR))

t.test('before any upload expires the sweeper removes nothing', async (t) => {
  t.equal(await sweepExpiredUploads({ repos: env.repos, storage: env.storage, log, now: () => start }), 0)
  t.same(await rowIds(), [direct, resumable, later].sort())
  t.equal((await listObjectKeys(env.storage)).length, 4, 'the direct files and the resumable one\'s two side objects')
  t.equal((await incompleteUploads()).length, 1)
})

t.test('with the clock past two uploads\' expiry, those two go whole (rows, objects, the unfinished multipart upload) and the third stays', async (t) => {
  t.equal(await sweepExpiredUploads({ repos: env.repos, storage: env.storage, log, now: () => start + 2 * HOUR }), 2)
  t.same(await rowIds(), [later])
  t.same(await listObjectKeys(env.storage), [stagedUploadKey(later, 'direct')])
  t.same(await incompleteUploads(), [], 'the resumable upload\'s parts are gone')
  t.same(await env.repos.objectDeletions.listOlderThan(new Date(start + 10 * HOUR), 10), [], 'nothing left for the outbox to retry')
})

t.test('an upload extended before the sweep (a resumable upload receiving bytes) is not swept at its first expiry', async (t) => {
  // the third expires at +3 h; extended to +5 h before the sweep at +4 h
  await env.repos.pendingUploads.extend(later, new Date(start + 5 * HOUR))
  t.equal(await sweepExpiredUploads({ repos: env.repos, storage: env.storage, log, now: () => start + 4 * HOUR }), 0)
  t.same(await rowIds(), [later])
  t.same(await listObjectKeys(env.storage), [stagedUploadKey(later, 'direct')])
})

t.test('a row extended between the sweeper\'s scan and its delete stays, and its objects are neither recorded nor removed', async (t) => {
  const now = new Date(start + 6 * HOUR)
  const [scanned] = await env.repos.pendingUploads.listExpired(now, 10)
  t.equal(scanned?.id, later, 'the scan saw it expired')
  await env.repos.pendingUploads.extend(later, new Date(start + 7 * HOUR))
  t.same(await env.repos.pendingUploads.forgetExpired([later], () => [scanned!.object_key], now), [], 'nothing recorded')
  t.same(await rowIds(), [later])
  t.same(await env.repos.objectDeletions.listOlderThan(new Date(start + 10 * HOUR), 10), [])
})
