// How scripts/test.mjs counts a run: one count per top-level test of each test file, from the TAP
// text tap 21 saves per file (.tap/test-results/<file>.tap) and from the tap runner's verdict on
// each file (its stdout: `ok N - test/x.test.ts` / `not ok N - test/x.test.ts` and a YAML block with
// the exit code or signal). Both are needed: a file killed half-way leaves a result file that just
// stops, one that throws at import leaves an empty one, and one that exits non-zero after its last
// test leaves a result file that looks clean; only the verdict tells those apart.
// packages/test-runner-selftest runs these functions over the suites in scripts/runner-fixtures.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

/**
 * What one result file says, top level only (a subtest's own assertions are indented under it).
 * tests: one entry per top-level test, status 'passed' | 'failed' | 'skipped' (todo is skipped).
 * finished: tap wrote the file's closing plan (`1..N`) and that many results, and did not bail out.
 */
export function readResultFile(text) {
  const lines = text.split('\n')
  const subtests = []
  // results with no subtest body: assertions on the root `t`, or a skipped/todo subtest (tap
  // writes those as a bare `ok N - name # SKIP`, with no `# Subtest:` header)
  const bare = []
  let plan
  let results = 0
  let bailed = false
  let inSubtest = false
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line.startsWith('# Subtest:')) inSubtest = true
    else if (line.startsWith('Bail out!')) bailed = true
    else if (/^1\.\.\d+/.test(line)) plan = { count: Number(/^1\.\.(\d+)/.exec(line)[1]), reason: /^1\.\.\d+\s*#\s*(.*)$/.exec(line)?.[1] ?? '' }
    else {
      const result = parseResult(line)
      if (!result) continue
      results++
      // a buffered subtest is written as `ok N - name {` with its body indented and a closing `}`
      if (inSubtest || line.endsWith(' {')) subtests.push({ ...result, line: i })
      else bare.push({ ...result, line: i })
      inSubtest = false
    }
  }
  const status = (r) => (r.directive ? 'skipped' : r.ok ? 'passed' : 'failed')
  const tests = subtests.map((r) => ({ name: r.name, status: status(r) }))
  // a bare SKIP/TODO result counts as a skipped test: that is how a skipped or todo subtest looks
  // (a skipped assertion on the root `t` looks the same, and is counted the same way)
  for (const r of bare.filter((r) => r.directive)) tests.push({ name: r.name, status: 'skipped' })
  const assertions = bare.filter((r) => !r.directive)
  if (assertions.length > 0) {
    const failedAssertions = assertions.filter((r) => !r.ok)
    if (tests.length === 0) {
      // a file of plain assertions and no subtests is one test
      tests.push({ name: failedAssertions[0]?.name ?? '(the file’s assertions)', status: failedAssertions.length ? 'failed' : 'passed' })
    } else if (failedAssertions.length > 0) {
      // assertions on the root `t` made beside or inside subtests add no test, but a failed one
      // must still fail the file: one failed test for them all
      tests.push({ name: `assertion on the root t: ${failedAssertions[0].name}`, status: 'failed' })
    }
  }
  const finished = !bailed && plan !== undefined && plan.count === results
  return { tests, finished, bailed, plan }
}

/** One TAP result line at the top level: `ok 3 - name # SKIP why`, `not ok 2 - name # time=1ms`. */
function parseResult(line) {
  const match = /^(not )?ok\b(?: \d+)?(?: -)?(.*)$/.exec(line)
  if (!match) return undefined
  let rest = match[2].replace(/ \{$/, '')
  // the directive follows the first unescaped `#` (tap writes a `#` in a name as `\#`)
  const hash = /(?<!\\)#/.exec(rest)
  const directive = hash ? /^\s*(SKIP|TODO)\b/i.exec(rest.slice(hash.index + 1))?.[1].toLowerCase() : undefined
  if (hash) rest = rest.slice(0, hash.index)
  return { ok: !match[1], name: rest.trim(), directive }
}

/**
 * The tap runner's verdict on each file it ran, from its stdout: Map of file (relative to the
 * package, as tap names it) to { ok, skipped, why } where `why` says how a failed file ended.
 */
export function readVerdicts(stdout) {
  const verdicts = new Map()
  const lines = stdout.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const match = /^(not )?ok \d+ - (\S+?\.test\.[cm]?[jt]sx?)(?: # (.*))?$/.exec(lines[i])
    if (!match) continue
    const verdict = { ok: !match[1], skipped: /^SKIP\b/i.test(match[3] ?? ''), why: '' }
    if (!verdict.ok && lines[i + 1] === '  ---') {
      // the YAML under a failed file: its exit code or the signal that ended it
      const yaml = []
      for (let j = i + 2; j < lines.length && lines[j] !== '  ...'; j++) yaml.push(lines[j])
      const signal = yaml.map((l) => /^ {2}signal: (\w+)/.exec(l)?.[1]).find((s) => s && s !== 'null')
      const code = yaml.map((l) => /^ {2}exitCode: (\d+)/.exec(l)?.[1]).find(Boolean)
      verdict.why = signal === 'SIGALRM' ? 'timed out (SIGALRM)' : signal ? `killed by ${signal}` : code ? `exit ${code}` : ''
    }
    verdicts.set(match[2], verdict)
  }
  return verdicts
}

/** A package's test files (every *.test.ts under test/, as each .taprc includes them), relative to the package. */
export function testFiles(dir) {
  const found = []
  const walk = (sub) => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(sub, entry.name))
      else if (entry.name.endsWith('.test.ts')) found.push(join(sub, entry.name))
    }
  }
  if (existsSync(join(dir, 'test'))) walk('test')
  return found.sort()
}

/** The result files tap saved under a package's .tap/test-results, as test file paths (test/x.test.ts). */
export function savedResults(dir) {
  const base = join(dir, '.tap', 'test-results')
  const found = []
  const walk = (sub) => {
    let entries = []
    try {
      entries = readdirSync(join(base, sub))
    } catch {
      return
    }
    for (const entry of entries) {
      const path = join(sub, entry)
      if (statSync(join(base, path)).isDirectory()) walk(path)
      else if (entry.endsWith('.tap')) found.push(path.slice(0, -'.tap'.length))
    }
  }
  walk('')
  return found
}

/**
 * Counts one package's run. `files`: the test files it should have run (relative to the package);
 * `stdout`: the tap runner's output (for a package split in halves, both halves' output);
 * `runsFailed`: whether a run of the package exited non-zero (or was killed).
 * Returns { passed, failed, skipped, failures: [text], details: [lines] }.
 */
export function countPackage({ name, dir, files, stdout, runsFailed }) {
  const verdicts = readVerdicts(stdout)
  const count = { passed: 0, failed: 0, skipped: 0, failures: [], details: [] }
  const fail = (what) => {
    count.failed++
    count.failures.push(`${name}: ${what}`)
  }
  // a file tap saved results for but that is not in the list still counts (another include pattern)
  const all = [...new Set([...files, ...savedResults(dir)])].sort()
  for (const file of all) {
    const path = join(dir, '.tap', 'test-results', `${file}.tap`)
    const verdict = verdicts.get(file)
    if (!existsSync(path)) {
      fail(`${file}: no result written (${verdict?.why || (runsFailed ? 'its run crashed before it' : 'tap did not run it')})`)
      continue
    }
    const text = readFileSync(path, 'utf8')
    const result = readResultFile(text)
    for (const test of result.tests) {
      count[test.status]++
      if (test.status === 'failed') count.failures.push(`${name}: ${file}: ${test.name}`)
    }
    const anyFailed = result.tests.some((t) => t.status === 'failed')
    if (anyFailed) count.details.push(`# ${name}: ${file}`, ...failureDetails(text.split('\n')))
    if (!result.finished) {
      // the tests it finished stay counted; the one it was in and any after it are one failure
      const how = result.bailed ? 'bailed out' : verdict?.why || 'its output stops'
      if (text.trim() === '') fail(`${file}: wrote no results (${verdict?.why || 'it never started'})`)
      else fail(`${file}: did not finish (${how}) after ${result.tests.length} test${result.tests.length === 1 ? '' : 's'}`)
    } else if (result.plan.count === 0 && (result.plan.reason === '' || /no tests found/i.test(result.plan.reason))) {
      fail(`${file}: the file ran no test`)
    } else if (result.plan.count === 0) {
      // `1..0 # why`: the whole file skipped itself
      count.skipped++
    } else if (!verdict && !anyFailed) {
      fail(`${file}: tap gave no verdict on it (the run ended early)`)
    } else if (verdict && !verdict.ok && !anyFailed) {
      // every test passed but the process did not end well (a non-zero exit after its last test)
      fail(`${file}: tap reports it failed (${verdict.why || 'not ok'})`)
    }
  }
  // a run failing with nothing above to show for it (e.g. it crashed before any test file) must fail
  if (runsFailed && count.failed === 0) fail('its run failed without a failed test file')
  return count
}

/** Each failed assertion of a result file with tap's YAML diagnosis under it: CI shows only this output. */
function failureDetails(lines) {
  const details = []
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*not ok \d+/.test(lines[i]) || /#\s*TODO\b/i.test(lines[i])) continue
    details.push(lines[i])
    if (!/^\s*---$/.test(lines[i + 1] ?? '')) continue
    for (let j = i + 1; j < lines.length && j < i + 40; j++) {
      details.push(lines[j])
      if (/^\s*\.\.\.$/.test(lines[j])) break
    }
  }
  return details
}

/** The closing line CI reads: `N passed, N failed` first, then the skipped (and todo) tests. */
export function closingLine({ passed, failed, skipped }) {
  return `${passed} passed, ${failed} failed, ${skipped} skipped`
}
