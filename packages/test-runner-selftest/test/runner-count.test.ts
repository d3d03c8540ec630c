import { spawn } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { closingLine, countPackage, readResultFile, testFiles, type Count } from '../../../scripts/test-count.mjs'

// The count scripts/test.mjs prints at the end of `npm test`, checked on suites whose outcome is
// known: each fixture in scripts/runner-fixtures is run the way the runner runs a package (its
// `test` script, tap from the workspace), then counted with the runner's own code.
const here = dirname(fileURLToPath(import.meta.url))
const packageDir = join(here, '..')
const fixtures = join(packageDir, '..', '..', 'scripts', 'runner-fixtures')

// The fixtures run from a copy under this package's .tap/ (ignored by git), so that `tap` and
// `tsx` resolve from this package's node_modules and the workspace root as in a real package, and
// the result files they write never land in scripts/.
mkdirSync(join(packageDir, '.tap'), { recursive: true })
const work = mkdtempSync(join(packageDir, '.tap', 'fixture-runs-'))
t.teardown(() => rmSync(work, { recursive: true, force: true }))
cpSync(fixtures, work, { recursive: true })

// This file runs under tap, which hands its settings to test processes as TAP_* variables (and
// loaders in NODE_OPTIONS); the fixtures' own tap must read only their .taprc.
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(TAP|_TAPJS_)/.test(key) && key !== 'NODE_OPTIONS'))
env.PATH = `${join(packageDir, 'node_modules', '.bin')}:${env.PATH ?? ''}`

/** Runs a fixture's `test` script as `pnpm run test` would (a shell, node_modules/.bin on PATH), and counts it. */
function runFixture(name: string): Promise<Count & { code: number | null }> {
  const dir = join(work, name)
  const { scripts } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts: { test: string } }
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', scripts.test], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const stdout: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.resume()
    child.on('close', (code, signal) => {
      const count = countPackage({ name, dir, files: testFiles(dir), stdout: Buffer.concat(stdout).toString('utf8'), runsFailed: code !== 0 || signal !== null })
      resolve({ ...count, code })
    })
  })
}

// all at once: each is a few seconds of tap and tsx starting up
const names = readdirSync(work, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name)
const runs = Object.fromEntries(await Promise.all(names.map(async (name) => [name, await runFixture(name)] as const)))
const summary = (count: Count) => closingLine(count)

t.test('skipped and todo tests count as skipped, not passed', async (t) => {
  const run = runs['skip-todo']!
  t.equal(summary(run), '3 passed, 0 failed, 2 skipped')
  t.same(run.failures, [])
  t.equal(run.code, 0)
})

t.test('a file killed half-way counts as failed and is named; its earlier passes and the next file still count', async (t) => {
  const run = runs['killed']!
  t.equal(summary(run), '3 passed, 1 failed, 0 skipped')
  t.same(run.failures, ['killed: test/killed.test.ts: did not finish (killed by SIGKILL) after 2 tests'])
  t.not(run.code, 0)
})

t.test('a package whose test file throws at import counts as failed and is named', async (t) => {
  const run = runs['throws-at-import']!
  t.equal(summary(run), '0 passed, 1 failed, 0 skipped')
  t.same(run.failures, ['throws-at-import: test/throws.test.ts: wrote no results (exit 1)'])
})

t.test('assertions on the root t from inside subtests add no tests; a file of plain assertions is one test', async (t) => {
  const run = runs['root-t']!
  t.equal(summary(run), '3 passed, 0 failed, 0 skipped')
  t.same(run.failures, [])
})

t.test('a package dying before tap starts counts each of its test files as failed, by name', async (t) => {
  const run = runs['crashes-early']!
  t.equal(summary(run), '0 passed, 1 failed, 0 skipped')
  t.same(run.failures, ['crashes-early: test/never-runs.test.ts: no result written (its run crashed before it)'])
})

// what tap writes in cases the fixtures do not reach, as TAP text
t.test('a failed assertion on the root t still fails the file, as one test', async (t) => {
  const file = readResultFile(['TAP version 14', '# Subtest: a', '    ok 1 - fine', '    1..1', 'ok 1 - a # time=1ms', '', 'not ok 2 - on the root', '1..2', ''].join('\n'))
  t.same(file.tests, [
    { name: 'a', status: 'passed' },
    { name: 'assertion on the root t: on the root', status: 'failed' },
  ])
  t.equal(file.finished, true)
})

t.test('a failing todo test is skipped; a buffered subtest is a test; a bail-out does not finish', async (t) => {
  const file = readResultFile(['TAP version 14', 'not ok 1 - later # TODO not yet', 'ok 2 - buffered {', '    ok 1 - fine', '    1..1', '}', 'Bail out! stop', ''].join('\n'))
  t.same(file.tests, [
    { name: 'buffered', status: 'passed' },
    { name: 'later', status: 'skipped' },
  ])
  t.equal(file.finished, false)
})
