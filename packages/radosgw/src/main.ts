// Runs a throw-away cluster for as long as whoever started this process wants it: prints one JSON
// line {endPoint, accessKey, secretKey, region} once S3 answers, and stops the cluster when its
// standard input closes (the parent exited, even by SIGKILL) or on SIGTERM/SIGINT.
// Used by scripts/test.mjs (one store for a whole test run) and the benchmarks.
import { startRadosgw } from './cluster.js'

const cluster = await startRadosgw()
let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  await cluster.stop()
  process.exit(0)
}
process.on('SIGTERM', stop).on('SIGINT', stop)
process.on('exit', () => cluster.stopSync())
process.stdin.on('end', stop).on('close', stop).resume()
const { endPoint, accessKey, secretKey, region } = cluster
process.stdout.write(`${JSON.stringify({ endPoint, accessKey, secretKey, region })}\n`)
