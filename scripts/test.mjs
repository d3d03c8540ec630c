#!/usr/bin/env node
// Runs every package's tap suite, four at a time, the slowest first, then counts the results tap
// saved for each test file and prints the closing line `N passed, N failed, N skipped` (one count
// per top-level test; how it counts: scripts/test-count.mjs). Exits non-zero when anything failed.
//
// Why not `turbo run test`: turbo starts packages in an order of its own, and when the slowest
// suites (gateway, system tests, worker: ~4 minutes each here) start last, the whole run takes
// minutes longer than the work needs. The order comes from how long each package and test file
// took the last time on this machine (.tap/test-durations.json), or else from
// scripts/test-durations.json; a package slower than SPLIT_ABOVE_SECONDS runs as several parts.
//
// Usage: node scripts/test.mjs [package name …]   (default: every package with a test script)
//        TEST_PLAN_ONLY=1 prints the units in the order they would start, and runs nothing.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { closingLine, countPackage, testFiles } from './test-count.mjs'

const root = new URL('..', import.meta.url).pathname
const concurrency = Number(process.env.TEST_CONCURRENCY ?? 4)
// every workspace package: a folder with a package.json, as pnpm-workspace.yaml lists them
const workspaces = [
  ...['packages', 'services'].flatMap((dir) => readdirSync(join(root, dir)).map((name) => join(root, dir, name))),
  join(root, 'bench'),
]
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
for (const { dir } of workspaces) rmSync(join(dir, '.tap', 'test-results'), { recursive: true, force: true })

const wanted = process.argv.slice(2)
const suites = workspaces.filter(({ manifest }) => manifest.scripts?.test && (wanted.length === 0 || wanted.includes(manifest.name)))
if (wanted.length > 0 && suites.length === 0) {
  console.error(`no package with a test script is named ${wanted.join(', ')}`)
  process.exit(1)
}

const localDurationsFile = join(root, '.tap', 'test-durations.json')
function readDurations(file) {
  try {
    const { packages = {}, files = {} } = JSON.parse(readFileSync(file, 'utf8'))
    return { packages, files }
  } catch {
    return { packages: {}, files: {} }
  }
}
const committed = readDurations(join(root, 'scripts', 'test-durations.json'))
const local = readDurations(localDurationsFile)
const durations = { packages: { ...committed.packages, ...local.packages }, files: { ...committed.files, ...local.files } }

// A suite that alone takes longer than this is run as parts side by side (two, or one per
// PART_SECONDS of it, at most MAX_PARTS), so that the longest one does not end the run minutes
// after the others.
const SPLIT_ABOVE_SECONDS = 200
const PART_SECONDS = 300
const MAX_PARTS = 4
const units = suites.flatMap(({ dir, manifest }) => {
  const whole = durations.packages[manifest.name]
  const files = testFiles(dir)
  if (whole === undefined || whole < SPLIT_ABOVE_SECONDS || files.length < 4) {
    // a package never timed goes first: it may be the slow one
    return [{ dir, packageName: manifest.name, name: manifest.name, files: [], weight: whole ?? Infinity }]
  }
  const known = files.map((file) => durations.files[relative(root, join(dir, file))]).filter((seconds) => seconds !== undefined)
  const typical = known.length ? known.reduce((a, b) => a + b, 0) / known.length : 1
  const count = Math.min(MAX_PARTS, Math.max(2, Math.ceil(whole / PART_SECONDS)), Math.floor(files.length / 2))
  const parts = Array.from({ length: count }, (_, i) => ({ dir, packageName: manifest.name, name: `${manifest.name} (${i + 1}/${count})`, files: [], weight: 0 }))
  const weighed = files.map((file) => ({ file, seconds: durations.files[relative(root, join(dir, file))] ?? typical }))
  for (const { file, seconds } of weighed.sort((a, b) => b.seconds - a.seconds)) {
    const lightest = parts.reduce((a, b) => (b.weight < a.weight ? b : a))
    lightest.files.push(file)
    lightest.weight += seconds
  }
  const measured = parts.reduce((sum, part) => sum + part.weight, 0)
  return parts.map((part) => ({ ...part, weight: (whole * part.weight) / measured }))
})
units.sort((a, b) => b.weight - a.weight)
if (process.env.TEST_PLAN_ONLY) {
  for (const unit of units) console.log(`${unit.name}: ~${Math.round(unit.weight)} s${unit.files.length ? ` (${unit.files.join(' ')})` : ''}`)
  process.exit(0)
}

/** One unit (a package's suite, or a part of it); its output is printed whole when it ends, so units running side by side stay readable. */
function runUnit({ dir, packageName, name, files }) {
  const started = Date.now()
  const prefix = `${name}:test: `
  console.log(`${name}: started`)
  return new Promise((resolve) => {
    const child = spawn('pnpm', ['run', '--silent', 'test', ...files], { cwd: dir, env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '0' } })
    const output = []
    // stdout alone, for the tap runner's verdict on each file (scripts/test-count.mjs reads it)
    const stdout = []
    const fileSeconds = {}
    // each test file's verdict is shown as it comes, so a long run shows its progress
    let partialLine = ''
    child.stdout.on('data', (chunk) => {
      output.push(chunk)
      stdout.push(chunk)
      const lines = (partialLine + chunk.toString('utf8')).split('\n')
      partialLine = lines.pop() ?? ''
      for (const line of lines) {
        if (!/^(not )?ok \d+ - /.test(line)) continue
        console.log(`${name}: ${line}`)
        const timed = /^(?:not )?ok \d+ - (\S+\.test\.ts) # time=([\d.]+)ms/.exec(line)
        if (timed) fileSeconds[relative(root, join(dir, timed[1]))] = Math.round(Number(timed[2]) / 1000)
      }
    })
    child.stderr.on('data', (chunk) => output.push(chunk))
    child.on('close', (code, signal) => {
      const seconds = (Date.now() - started) / 1000
      const text = Buffer.concat(output).toString('utf8').replace(/\n$/, '')
      console.log(text.split('\n').map((line) => prefix + line).join('\n'))
      console.log(`${name}: ${code === 0 ? 'passed' : `failed (${signal ?? `exit ${code}`})`} in ${seconds.toFixed(1)} s`)
      resolve({ packageName, ok: code === 0, seconds, fileSeconds, stdout: Buffer.concat(stdout).toString('utf8') })
    })
  })
}

// tap builds its Test class for the configured plugins on first use; suites starting side by side
// would all build it at once, into the one copy the workspace shares
const build = spawnSync('pnpm', ['exec', 'tap', 'build'], { cwd: suites[0].dir, stdio: 'inherit' })
if (build.status !== 0) console.error(`tap build failed (${build.status}); the suites will try on their own`)

// One real S3 store (a throw-away radosgw, objects in RAM) for the whole run; each test file makes
// its own bucket on it. It stops when this process exits, however it exits (its stdin closes).
const store = await startTestStore()
process.env.IMAGEAPI_TEST_S3 = JSON.stringify(store.credentials)

const started = Date.now()
const queue = [...units]
const outcomes = []
await Promise.all(
  Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
    for (let unit = queue.shift(); unit; unit = queue.shift()) outcomes.push(await runUnit(unit))
  }),
)
store.stop()
// what this run took, for the next run's order (a split package: its parts' sum)
const packageSeconds = {}
for (const { packageName, seconds } of outcomes) packageSeconds[packageName] = Math.round((packageSeconds[packageName] ?? 0) + seconds)
mkdirSync(join(root, '.tap'), { recursive: true })
writeFileSync(
  localDurationsFile,
  JSON.stringify(
    {
      packages: { ...durations.packages, ...packageSeconds },
      files: { ...durations.files, ...Object.assign({}, ...outcomes.map((o) => o.fileSeconds)) },
    },
    null,
    2,
  ) + '\n',
)
console.log(`\nunits: ${outcomes.length}, ${outcomes.filter((o) => !o.ok).length} failed, ${((Date.now() - started) / 1000).toFixed(0)} s in all`)

/** Starts packages/radosgw's cluster in a child process and waits for its one line of credentials. */
function startTestStore() {
  const child = spawn(process.execPath, ['--conditions=@imageapi/source', '--import', 'tsx', 'packages/radosgw/src/main.ts'], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let text = ''
    child.stdout.on('data', (chunk) => {
      text += chunk
      if (!text.includes('\n')) return
      console.log(`S3 store for this run: radosgw at ${JSON.parse(text).endPoint}`)
      resolve({ credentials: JSON.parse(text), stop: () => child.stdin.end() })
    })
    child.on('exit', (code) => reject(new Error(`the test S3 store (radosgw) did not start (exit ${code})`)))
  })
}

// Counted per package (a package split in parts: all its parts' files and output together), over
// every test file it should have run, so a file that was killed, never ran or wrote nothing counts
// as failed instead of dropping out of the count.
let passed = 0
let failed = 0
let skipped = 0
const failures = []
const details = []
for (const { dir, manifest } of suites) {
  const runs = outcomes.filter((o) => o.packageName === manifest.name)
  const count = countPackage({
    name: manifest.name,
    dir,
    files: testFiles(dir),
    stdout: runs.map((o) => o.stdout).join('\n'),
    runsFailed: runs.some((o) => !o.ok),
  })
  passed += count.passed
  failed += count.failed
  skipped += count.skipped
  failures.push(...count.failures)
  details.push(...count.details)
}
if (details.length) console.log(`\nWhat failed, as tap recorded it:\n${details.join('\n')}`)
if (failures.length) console.log(`\nFailed:\n${failures.map((f) => `  ${f}`).join('\n')}`)
console.log(`\n${closingLine({ passed, failed, skipped })}`)
process.exit(failed === 0 && outcomes.every((o) => o.ok) ? 0 : 1)
