// The s3rver comparison store in its own process, so its CPU is
// counted apart and it does not share an event loop with the load generator.
import { startEmbeddedS3 } from './s3rver.js'

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
