// The s3rver comparison store (BENCH_STORE=s3rver) in its own process, so its CPU is counted apart
// and it does not share an event loop with the load generator. Buckets are made by the benchmarks.
import { startEmbeddedS3 } from './s3rver.js'

const server = await startEmbeddedS3()
process.stdout.write(`${JSON.stringify({ msg: `listening at ${server.endPoint}`, endPoint: server.endPoint, accessKey: server.accessKey, secretKey: server.secretKey })}\n`)
const stop = () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
