import t from 'tap'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import sharp from 'sharp'
import { createTestEnvironment, createTestUser, multipartBody, s3AdminClient, startService, waitFor } from '@imageapi/testkit'

// A client sends a PNG far over the default 25 MiB limit, slowly (64 KiB at a time, with pauses), to
// the gateway running as its own process. The 413 must come while the client is still sending, as
// the limit is crossed, not once the body ends; and the gateway's memory must not grow with the
// body. (upload-streaming.test.ts covers what a refusal leaves behind, in process and at full speed.)
const MiB = 1024 * 1024
const LIMIT = 25 * MiB // the gateway's default UPLOAD_MAX_BYTES, left as it is
const CHUNK = 64 * 1024
const PAUSE_MS = 5

const env = await createTestEnvironment(t)
const gateway = await startService(t, 'gateway', env.env)
const pid = gateway.process.pid!
const user = await createTestUser(env.repos, 'Premium')
const signedIn = await fetch(`${gateway.url}/api/token/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: user.email, password: user.password }) })
const { access } = (await signedIn.json()) as { access: string }

/** The gateway process's resident memory, in bytes. */
async function rss(): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]) * 1024
}

// random pixels stored uncompressed: 4000 × 3500 × 3 ≈ 40 MiB, a valid PNG (14 MP, under the pixel limit)
const png = await sharp(randomBytes(4000 * 3500 * 3), { raw: { width: 4000, height: 3500, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer()
const { body, headers } = multipartBody({ title: 'too large', image: { filename: 'huge.png', data: png } })

/** Sends the body 64 KiB at a time with pauses, and stops sending once the answer is in. */
function sendSlowly(): Promise<{ status: number; body: string; sentAtResponse: number; finishedSending: boolean }> {
  let sent = 0
  let sentAtResponse: number | undefined
  let finishedSending = false
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${gateway.url}/api/images`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${access}` }, agent: false })
    request.on('error', (error) => (sentAtResponse === undefined ? reject(error) : undefined))
    request.on('response', (response) => {
      sentAtResponse = sent
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => resolve({ status: response.statusCode!, body: Buffer.concat(chunks).toString(), sentAtResponse: sentAtResponse!, finishedSending }))
    })
    void (async () => {
      while (sent < body.length && sentAtResponse === undefined && !request.destroyed) {
        const chunk = body.subarray(sent, sent + CHUNK)
        sent += chunk.length
        if (!request.write(chunk)) await new Promise((resolveDrain) => request.once('drain', resolveDrain))
        await sleep(PAUSE_MS)
      }
      if (sent === body.length) {
        finishedSending = true
        request.end()
      } else {
        request.destroy() // the answer is in: stop sending
      }
    })().catch(reject)
  })
}

const UPLOADS = 3

t.test(`${UPLOADS} slow uploads over 25 MiB, one after another: each 413 arrives while its body is still being sent, soon after the limit, and the gateway's RSS stays under baseline + 64 MiB, less than the bytes it received`, async (t) => {
  t.ok(png.length > LIMIT + 10 * MiB, `the file (${(png.length / MiB).toFixed(1)} MiB) is well over the limit`)
  // warm up: one small request of the same route, so the baseline includes the code an upload loads
  const warmUp = await fetch(`${gateway.url}/api/images`, { method: 'POST', headers: { authorization: `Bearer ${access}`, 'content-type': 'multipart/form-data; boundary=x' }, body: '--x--\r\n' })
  t.equal(warmUp.status, 400)
  const baseline = await rss()

  let peak = baseline
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await rss())
      await sleep(25)
    }
  })()

  let received = 0
  for (let i = 1; i <= UPLOADS; i++) {
    const answer = await sendSlowly()
    received += answer.sentAtResponse
    t.equal(answer.status, 413, `upload ${i}: 413`)
    t.match(JSON.parse(answer.body).message, /^image exceeds the 25 MiB limit$/)
    t.notOk(answer.finishedSending, 'the client never got to finish its body')
    t.ok(answer.sentAtResponse < body.length, `the answer came with ${(answer.sentAtResponse / MiB).toFixed(1)} of ${(body.length / MiB).toFixed(1)} MiB sent`)
    t.ok(answer.sentAtResponse > LIMIT, 'not before the limit was crossed')
    // in flight between the client and the probe: socket buffers both ways and the 5 MiB part being
    // filled; an answer within 12 MiB past the limit means the body was not read to its end first
    t.ok(answer.sentAtResponse < LIMIT + 12 * MiB, 'soon after the limit was crossed')
  }
  sampling = false
  await sampler
  peak = Math.max(peak, await rss())

  // Bound: what one upload may borrow from UPLOAD_BUFFER_BYTES (two 5 MiB parts), the S3 client's
  // and the sockets' buffers, and the chunks the GC has not taken back yet (RSS rises with the first
  // upload's bytes, ~30 MiB, and by ~10 MiB more over the next two: measured 40-44 MiB in all). 64 MiB over the baseline is under
  // the ~75 MiB the gateway received in all: memory that grew with what it received would cross it.
  const grew = peak - baseline
  t.ok(received > 64 * MiB, `the gateway received ${(received / MiB).toFixed(1)} MiB in all`)
  t.ok(grew < 64 * MiB, `RSS grew by at most ${(grew / MiB).toFixed(1)} MiB (baseline ${(baseline / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB)`)

  // and the refusals left nothing: no row, no object, no incomplete multipart upload
  const s3 = s3AdminClient(env.s3)
  const leftovers = await waitFor(async () => {
    const incomplete: string[] = []
    for await (const upload of s3.listIncompleteUploads(env.s3.bucket, '', true)) incomplete.push(upload.key)
    const objects = await env.storage.listKeys()
    const rows = (await env.repos.images.listByOwner(user.user.id, { limit: 10 })).images.length
    return incomplete.length === 0 && objects.length === 0 ? { incomplete, objects, rows } : undefined
  }, { what: 'the refused uploads to be cleaned up', timeoutMs: 20_000 })
  t.same(leftovers, { incomplete: [], objects: [], rows: 0 })
  t.equal((await fetch(`${gateway.url}/healthz`)).status, 200, 'the gateway is still up')
})
