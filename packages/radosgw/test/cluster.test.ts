import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRadosgw, testS3Store, TEST_S3_VARIABLE, type Radosgw } from '../src/index.js'

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

/** What an anonymous client gets from the S3 port: radosgw answers S3 XML (and refuses a bucket listing). */
async function anonymousBucketListing(cluster: Radosgw, bucket: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${cluster.endPoint}/${bucket}?list-type=2`)
  return { status: response.status, body: await response.text() }
}

t.test('two clusters run side by side on their own loopback ports, and stopping one kills exactly its three daemons and removes its folder', async (t) => {
  const [first, second] = await Promise.all([startRadosgw(), startRadosgw()])
  t.teardown(() => Promise.all([first.stop(), second.stop()]))
  t.match(first.endPoint, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.not(first.endPoint, second.endPoint)
  t.not(first.accessKey, second.accessKey, 'each cluster has keys of its own')
  t.equal(first.pids().length, 3, 'monitor, OSD and gateway')
  for (const pid of first.pids()) t.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), join(first.directory, 'ceph.conf'))
  t.equal((await anonymousBucketListing(first, 'anything')).status, 404, 'a real S3 answers: no such bucket')

  const firstPids = first.pids()
  const secondPids = second.pids()
  await first.stop()
  t.same(firstPids.filter(alive), [], 'its daemons are gone')
  t.notOk(existsSync(first.directory), 'its temporary folder is removed')
  t.same(secondPids.filter(alive), secondPids, 'the other cluster’s daemons still run')
  t.match((await anonymousBucketListing(second, 'anything')).body, /NoSuchBucket/, 'and it still answers')
})

t.test('a folder holding a cluster that never finished starting is made anew', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'radosgw-half-'))
  t.teardown(() => rm(directory, { recursive: true, force: true }))
  await mkdir(join(directory, 'mon'), { recursive: true })
  await writeFile(join(directory, 'ceph.conf'), '[global]\nfsid = left-over\n')
  const cluster = await startRadosgw({ directory })
  t.teardown(() => cluster.stop())
  t.ok(existsSync(join(directory, 'cluster.json')), 'the finished cluster is recorded')
  t.notMatch(readFileSync(join(directory, 'ceph.conf'), 'utf8'), 'left-over')
  t.equal(cluster.pids().length, 3)
  await cluster.stop()
  t.ok(existsSync(directory), 'a folder the caller gave is kept')
})

t.test('testS3Store hands out the store the test runner shares through IMAGEAPI_TEST_S3', async (t) => {
  const shared = { endPoint: 'http://127.0.0.1:1', accessKey: 'a', secretKey: 's', region: 'us-east-1' }
  const before = process.env[TEST_S3_VARIABLE]
  process.env[TEST_S3_VARIABLE] = JSON.stringify(shared)
  t.teardown(() => {
    if (before === undefined) delete process.env[TEST_S3_VARIABLE]
    else process.env[TEST_S3_VARIABLE] = before
  })
  t.same(await testS3Store(), shared)
})
