import t from 'tap'
import { spawn } from 'node:child_process'
import { createTestEnvironment, createTestUser, jpegImage, REPO_ROOT, startService, waitFor } from '@imageapi/testkit'
import { createThumbnailQueue, enqueueThumbnails } from '@imageapi/queue'
import { storeImage, thumbnailKeys, thumbnailRows, type StoredImage } from './support.js'

// Worker processes started from source, as production runs the built ones.
const env = await createTestEnvironment(t)
const owner = (await createTestUser(env.repos, 'Premium')).user
const queue = createThumbnailQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix })
t.teardown(() => queue.close())

t.test('two worker processes sharing the queue make each of 12 images exactly once, then stop on SIGTERM', async (t) => {
  const workerEnv = { ...env.env, WORKER_CONCURRENCY: '1' }
  const workers = await Promise.all([startService(t, 'thumbnail-worker', workerEnv), startService(t, 'thumbnail-worker', workerEnv)])

  const original = await jpegImage(2000, 1500)
  const images: StoredImage[] = []
  for (let i = 0; i < 12; i++) images.push(await storeImage(env, owner, original))
  for (const [i, image] of images.entries()) await enqueueThumbnails(queue, { imageId: image.id, requestId: `request-${i}` })

  await waitFor(
    async () => {
      for (const image of images) {
        if (!(await thumbnailRows(env, image.id)).every((row) => row.status === 'ready')) return false
      }
      return true
    },
    { timeoutMs: 30_000, what: 'every thumbnail ready' },
  )
  // the rows are written before a job logs its line, which then comes through a pipe: wait for all 12
  const doneLinesNow = () => workers.flatMap((worker) => worker.logs.filter((line) => line.msg === 'thumbnails done'))
  await waitFor(() => doneLinesNow().length >= images.length, { timeoutMs: 10_000, what: 'a "thumbnails done" line per image' })
  await new Promise((resolve) => setTimeout(resolve, 500)) // and any duplicate a second process may still print

  const doneLines = doneLinesNow()
  for (const [i, image] of images.entries()) {
    const lines = doneLines.filter((line) => line.imageId === image.id)
    t.equal(lines.length, 1, `image ${i}: one "thumbnails done" line across both processes`)
    t.match(lines[0], { requestId: `request-${i}`, rendered: [200, 400] }, `image ${i}: its request id, both heights`)
    t.same(
      (await thumbnailRows(env, image.id)).map((row) => [row.height, row.status, row.width]),
      [
        [200, 'ready', 267],
        [400, 'ready', 533],
      ],
    )
    t.same(
      await thumbnailKeys(env, image.id),
      ['200.jpg', '200.webp', '400.jpg', '400.webp'].map((name) => `thumbnails/${image.id}/${name}`),
      `image ${i}: one object per height and default format (source, WebP)`,
    )
  }
  const perWorker = workers.map((worker) => worker.logs.filter((line) => line.msg === 'thumbnails done').length)
  t.ok(
    perWorker.every((count) => count > 0),
    `both processes took jobs (${perWorker.join(' + ')})`,
  )
  t.equal(
    workers.flatMap((worker) => worker.logs).filter((line) => line.msg === 'thumbnails failed').length,
    0,
    'no failed attempts',
  )

  t.same(await Promise.all(workers.map((worker) => worker.stop('SIGTERM'))), [0, 0], 'both exit 0 on SIGTERM')
  for (const worker of workers) t.ok(worker.logs.some((line) => line.msg === 'shutting down' && line.signal === 'SIGTERM'), 'logged its shutdown')
})

/** Starts main.ts the way startService does, but waits for the output to close, so nothing is missed. */
async function runWorkerExpectingExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--conditions=@imageapi/source', '--import', 'tsx', 'services/thumbnail-worker/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const code = await new Promise<number | null>((resolve) => child.once('close', (exitCode) => resolve(exitCode)))
  clearTimeout(timer)
  return { code, output }
}

t.test('a bad setting stops the worker with exit code 1 and a message naming the variable', async (t) => {
  // every variable's validation is covered in config.test.ts; this checks what the process does with it
  const { code, output } = await runWorkerExpectingExit({ ...env.env, WORKER_CONCURRENCY: 'zero' })
  t.equal(code, 1, 'exit code 1')
  t.match(output, /Invalid configuration:\n\s+WORKER_CONCURRENCY: .*"zero"/, 'names the variable and the bad value')
  t.notMatch(output, /worker ready/, 'never ready')
})
