import { Worker } from 'node:worker_threads'
import type { Test } from 'tap'
import type { EmbeddedS3Options } from '../../src/index.js'

export interface S3OnOwnThread {
  endPoint: string
  accessKey: 'S3RVER'
  secretKey: 'S3RVER'
  /**
   * Has the server close its idle connections, and returns once it has, without letting this
   * thread's event loop run in between: a client here cannot have noticed.
   */
  closeIdleConnectionsWhileBlocked(): void
}

/**
 * The embedded S3 server on a worker thread, with an event loop (and so a keep-alive clock) of its
 * own: a test can block its own loop, as a busy client does, while the server keeps time and closes
 * connections, as a server in another process would.
 */
export async function startS3OnOwnThread(t: Test, options: EmbeddedS3Options): Promise<S3OnOwnThread> {
  const signal = new Int32Array(new SharedArrayBuffer(4))
  const worker = new Worker(new URL('./s3-thread-bootstrap.mjs', import.meta.url), { workerData: { options, signal } })
  const endPoint = await new Promise<string>((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  t.teardown(async () => {
    worker.postMessage('close')
    await new Promise((resolve) => worker.once('exit', resolve))
  })
  return {
    endPoint,
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    closeIdleConnectionsWhileBlocked() {
      Atomics.store(signal, 0, 0)
      worker.postMessage('close-idle-connections')
      if (Atomics.wait(signal, 0, 0, 5_000) === 'timed-out') throw new Error('the S3 thread did not close its connections')
    },
  }
}

/** Blocks this thread's event loop, as minio's SHA-256 of large bodies does. */
export function blockEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}
