#!/usr/bin/env node
// Makes a fresh machine ready: the pinned pnpm, then the workspace's dependencies.
// Runs before `npm start` / `npm test` (and their pnpm twins); a no-op when all is in place.
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const root = new URL('..', import.meta.url).pathname
const { packageManager } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const wanted = packageManager.split('@')[1]

const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`imageapi needs Node.js 20.19 or newer; this is ${process.version}`)
  process.exit(1)
}

function pnpmVersion() {
  const result = spawnSync('pnpm', ['--version'], { encoding: 'utf8', env: { ...process.env, COREPACK_ENABLE_STRICT: '0' } })
  return result.status === 0 ? result.stdout.trim() : undefined
}

if (pnpmVersion() !== wanted) {
  console.error(`installing pnpm ${wanted} (npm i -g pnpm@${wanted})`)
  execFileSync('npm', ['install', '--global', `pnpm@${wanted}`], { stdio: 'inherit' })
}

// --frozen-lockfile: the lockfile is the truth; an install never rewrites it behind your back.
execFileSync('pnpm', ['install', '--frozen-lockfile', '--prefer-offline', '--reporter=silent'], { cwd: root, stdio: 'inherit' })
