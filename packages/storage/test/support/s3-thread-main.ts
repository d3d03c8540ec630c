// Runs startEmbeddedS3 in a worker thread for s3-on-own-thread.ts: see there.
import { parentPort, workerData } from 'node:worker_threads'
import { startEmbeddedS3, type EmbeddedS3Options } from '../../src/index.js'

const { options, signal } = workerData as { options: EmbeddedS3Options; signal: Int32Array }
const s3 = await startEmbeddedS3(options)
parentPort!.on('message', (message: string) => {
  if (message === 'close-idle-connections') {
    s3.closeIdleConnections()
    // Wakes the test thread, which waits for this with its event loop blocked.
    Atomics.store(signal, 0, 1)
    Atomics.notify(signal, 0)
  } else if (message === 'close') {
    s3.close().then(() => parentPort!.close())
  }
})
parentPort!.postMessage(s3.endPoint)
