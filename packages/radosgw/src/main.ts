// Runs a throw-away cluster for as long as whoever started this process wants it: prints one JSON
// line {endPoint, accessKey, secretKey, region} once S3 answers, and stops the cluster when its
// standard input closes (the parent exited, even by SIGKILL) or on SIGTERM/SIGINT.
// Used by scripts/test.mjs (one store for a whole test run) and the benchmarks.
import { startRadosgw } from './cluster.js'

// A whole test run writes several GiB; deleted objects give their RAM back only after radosgw's
// garbage collection (~2 minutes), and a full in-memory OSD stalls writes instead of failing them.
const cluster = await startRadosgw({ capacityBytes: 8 * 1024 ** 3 })
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
