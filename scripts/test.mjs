#!/usr/bin/env node
// Runs every package's tap suite through turbo, then counts the results tap saved for each test
// file and prints the closing line `N passed, N failed` (one count per top-level test).
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
// every workspace package: a folder with a package.json, as pnpm-workspace.yaml lists them
const workspaces = [
  ...['packages', 'services'].flatMap((dir) => readdirSync(join(root, dir)).map((name) => join(root, dir, name))),
  join(root, 'bench'),
].filter((dir) => existsSync(join(dir, 'package.json')))
for (const workspace of workspaces) rmSync(join(workspace, '.tap', 'test-results'), { recursive: true, force: true })

const turbo = spawnSync('pnpm', ['exec', 'turbo', 'run', 'test', '--env-mode=loose', '--continue', `--concurrency=${process.env.TEST_CONCURRENCY ?? 4}`, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', FORCE_COLOR: process.env.FORCE_COLOR ?? '0' },
})

function* resultFiles(dir) {
  let entries = []
  try {
    entries = readdirSync(dir)
  } catch {
    return
  }
  for (const entry of entries) {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) yield* resultFiles(path)
    else if (entry.endsWith('.tap')) yield path
  }
}

/** Each failed assertion of a result file with tap's YAML diagnosis under it: CI shows only this output. */
function failureDetails(lines) {
  const details = []
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*not ok \d+/.test(lines[i])) continue
    details.push(lines[i])
    if (!/^\s*---$/.test(lines[i + 1] ?? '')) continue
    for (let j = i + 1; j < lines.length && j < i + 40; j++) {
      details.push(lines[j])
      if (/^\s*\.\.\.$/.test(lines[j])) break
    }
  }
  return details
}

let passed = 0
let failed = 0
const failures = []
const details = []
for (const workspace of workspaces) {
  for (const file of resultFiles(join(workspace, '.tap', 'test-results'))) {
    const lines = readFileSync(file, 'utf8').split('\n')
    let fileFailed = false
    let counted = 0
    for (const line of lines) {
      const match = /^(not )?ok \d+ - (.*?)(?: # .*)?$/.exec(line)
      if (!match) continue
      counted++
      if (match[1]) {
        failed++
        fileFailed = true
        failures.push(`${file.replace(root, '')}: ${match[2]}`)
      } else passed++
    }
    if (fileFailed) details.push(`# ${file.replace(root, '')}`, ...failureDetails(lines))
    if (counted === 0 && /Bail out!|^# no tests found/m.test(lines.join('\n'))) {
      failed++
      failures.push(`${file.replace(root, '')}: the file ran no test`)
    } else if (counted === 0 && !fileFailed) {
      failed++
      failures.push(`${file.replace(root, '')}: no results`)
    }
  }
}
if (details.length) console.log(`\nWhat failed, as tap recorded it:\n${details.join('\n')}`)
if (failures.length) console.log(`\nFailed:\n${failures.map((f) => `  ${f}`).join('\n')}`)
// turbo failing without any recorded failure (a crash before tap ran) must not pass
if (turbo.status !== 0 && failed === 0) failed = 1
console.log(`\n${passed} passed, ${failed} failed`)
process.exit(turbo.status === 0 && failed === 0 ? 0 : 1)
