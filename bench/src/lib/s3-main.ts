// The S3 server (s3rver, as `npm start` and the tests use) in its own process, so its CPU is
// counted apart and it does not share an event loop with the load generator.
import { startEmbeddedS3 } from '@imageapi/storage'

const bucket = process.env.S3_BUCKET ?? 'bench'
const server = await startEmbeddedS3({ buckets: [bucket] })
process.stdout.write(`${JSON.stringify({ msg: `listening at ${server.endPoint}`, endPoint: server.endPoint })}\n`)
const stop = () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
