// `pnpm bench [names…]`: runs the benchmarks (all, or those named) against the services run as
// separate processes, and prints for each our figure, the limit measured in the same run, and
// their ratio. BENCH_QUICK=1: a short smoke run. BENCH_PROFILE=1: services write CPU profiles to
// bench/results/profiles (summarise them with `pnpm --filter @imageapi/bench run profile-summary`).
// BENCH_STORE=radosgw (the default) or s3rver: the S3 store, started once for the run in processes
// of its own (lib/store.ts) and stopped at the end; each benchmark gets its own bucket on it.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { REPO_ROOT } from '@imageapi/testkit'
import { fromSource } from './lib/services.js'
import { join } from 'node:path'
import { loadJpeg, loadPng, type BenchInput } from './lib/inputs.js'
import { describeMachine, machineInfo, type MachineInfo } from './lib/machine.js'
import { RESULTS_DIR } from './lib/environment.js'
import { formatResult, type BenchResult } from './lib/report.js'
import { ensureWrk } from './lib/wrk.js'
import { waitForQuiet } from './lib/quiet.js'
import { cpuSeconds } from './lib/procstat.js'
import { benchStore, stopBenchStore, storeKind } from './lib/store.js'
import { thumbnailsBenchmark } from './benchmarks/thumbnails.js'
import { uploadLatencyBenchmark } from './benchmarks/upload-latency.js'
import { uploadThroughputBenchmark } from './benchmarks/upload-throughput.js'
import { directUploadBenchmark } from './benchmarks/direct-upload.js'
import { viewBenchmark } from './benchmarks/view.js'
import { listingBenchmark } from './benchmarks/listing.js'
import { workerScalingBenchmark } from './benchmarks/worker-scaling.js'
import { capacityBenchmark } from './capacity.js'

export interface BenchContext {
  quick: boolean
  jpeg: BenchInput
  png: BenchInput
  machine: MachineInfo
  log(line: string): void
}

const BENCHMARKS: Record<string, (ctx: BenchContext) => Promise<BenchResult>> = {
  thumbnails: thumbnailsBenchmark,
  'upload-latency': uploadLatencyBenchmark,
  'upload-throughput': uploadThroughputBenchmark,
  view: viewBenchmark,
  listing: listingBenchmark,
  // not part of a plain `pnpm bench` (all): run them by name
  'worker-scaling': workerScalingBenchmark,
  'direct-upload': directUploadBenchmark,
  capacity: capacityBenchmark,
}
const BY_NAME_ONLY = new Set(['worker-scaling', 'capacity', 'direct-upload'])
const ALIASES: Record<string, string> = { thumbnail: 'thumbnails', latency: 'upload-latency', upload: 'upload-latency', throughput: 'upload-throughput', memory: 'upload-throughput', list: 'listing', listings: 'listing', serve: 'view', views: 'view', direct: 'direct-upload', 'direct-uploads': 'direct-upload' }

const log = (line: string) => process.stderr.write(`${line}\n`)
const args = process.argv.slice(2).filter((a) => a !== '--')
if (args.includes('--help') || args.includes('-h')) {
  console.log(`usage: pnpm bench [${Object.keys(BENCHMARKS).join('|')}]…   (env: BENCH_STORE=radosgw|s3rver, BENCH_QUICK=1, BENCH_PROFILE=1, BENCH_FROM_SOURCE=1, BENCH_JPEG, BENCH_PNG)`)
  process.exit(0)
}
const names = args.length ? args.map((a) => ALIASES[a] ?? a) : Object.keys(BENCHMARKS).filter((n) => !BY_NAME_ONLY.has(n))
for (const name of names) {
  if (!BENCHMARKS[name]) {
    console.error(`unknown benchmark "${name}"; choose from: ${Object.keys(BENCHMARKS).join(', ')}`)
    process.exit(2)
  }
}

if (!fromSource) {
  // the services run as production runs them, from dist/: build what changed (turbo caches the rest)
  log('building the services (pnpm build)…')
  const build = spawnSync('pnpm', ['build'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] })
  if (build.status !== 0) {
    console.error('pnpm build failed')
    process.exit(1)
  }
}

const quick = process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true'
let kind: ReturnType<typeof storeKind>
try {
  kind = storeKind()
} catch (error) {
  console.error((error as Error).message)
  process.exit(2)
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`\n${signal}: stopping the store…`)
    stopBenchStore().finally(() => process.exit(130))
  })
}
const startedAt = new Date()
if (names.includes('view') || names.includes('listing')) ensureWrk(log)
const machine = machineInfo()

log(`imageapi benchmarks${quick ? ' (BENCH_QUICK: short smoke run)' : ''}: ${names.join(', ')}`)
log(describeMachine(machine))
log('preparing inputs (generated once, then cached in bench/.cache)…')
const [jpeg, png] = [await loadJpeg(), await loadPng()]
for (const input of [jpeg, png]) log(`  ${input.name}: ${input.width}×${input.height}, ${(input.data.length / 1e6).toFixed(2)} MB, sha256 ${input.sha256}…, ${input.source}`)

log(`starting the S3 store (${kind}) for this run…`)
const storeStart = performance.now()
const store = await benchStore()
log(`  ${store.describe()}, ready in ${((performance.now() - storeStart) / 1000).toFixed(1)} s`)
// what the store costs doing nothing (background work of its own), so its per-image CPU can be read against it
const idleWindowMs = quick ? 2000 : 5000
const idleBefore = store.pids().reduce((sum, pid) => sum + cpuSeconds(pid), 0)
await new Promise((resolve) => setTimeout(resolve, idleWindowMs))
const storeIdleCores = (store.pids().reduce((sum, pid) => sum + cpuSeconds(pid), 0) - idleBefore) / (idleWindowMs / 1000)
log(`  ${kind} at rest: ${(storeIdleCores * 1000).toFixed(0)} ms CPU per second`)

const ctx: BenchContext = { quick, jpeg, png, machine, log }
const results: BenchResult[] = []
let failed = false
for (const name of names) {
  log(`\n▶ ${name}`)
  await waitForQuiet(log)
  try {
    const result = await BENCHMARKS[name]!(ctx)
    results.push(result)
    console.log(formatResult(result))
  } catch (error) {
    failed = true
    console.error(`benchmark ${name} failed:`, error)
  }
}

const storeDescription = store.describe()
await stopBenchStore()

const header = [
  `# imageapi benchmarks — ${startedAt.toString()}`,
  '',
  `command: pnpm bench ${args.join(' ')}${quick ? ' (BENCH_QUICK=1)' : ''}${fromSource ? ' (BENCH_FROM_SOURCE=1: services run from source with tsx)' : ' (services run from their built dist/)'}${process.env.BENCH_SERVICE_ENV ? ` (BENCH_SERVICE_ENV="${process.env.BENCH_SERVICE_ENV}")` : ''}`,
  '',
  '```',
  describeMachine(machine),
  `store: ${storeDescription}; at rest it used ${(storeIdleCores * 1000).toFixed(0)} ms CPU per second`,
  `inputs: ${[jpeg, png].map((i) => `${i.name} ${i.width}×${i.height} ${(i.data.length / 1e6).toFixed(2)} MB (${i.source})`).join('; ')}`,
  '```',
].join('\n')
const markdown = [header, ...results.map(formatResult)].join('\n')
console.log(`\n${header}`)
mkdirSync(RESULTS_DIR, { recursive: true })
const stamp = startedAt.toISOString().replace(/[:.]/g, '-')
const json = JSON.stringify({ startedAt, quick, store: { kind, description: storeDescription, idleCpuPerSecond: storeIdleCores }, machine, inputs: [jpeg, png].map(({ data: _data, ...rest }) => ({ ...rest, bytes: _data.length })), results }, null, 2)
for (const file of [`${stamp}.json`, 'latest.json']) writeFileSync(join(RESULTS_DIR, file), json)
for (const file of [`${stamp}.md`, 'latest.md']) writeFileSync(join(RESULTS_DIR, file), `${markdown}\n`)
log(`\nresults written to ${join(RESULTS_DIR, 'latest.md')} and latest.json (${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s in all)`)
process.exit(failed ? 1 : 0)
