// Summarises V8 CPU profiles (.cpuprofile, from `node --cpu-prof`, which BENCH_PROFILE=1 turns on
// for the services): where the main thread's time went, by package and by function.
//   pnpm --filter @imageapi/bench run profile-summary -- <file or folder>… [--top N] [--skip-s S]
// Only the JavaScript thread is sampled: time in libvips or libuv's thread pool shows up as idle.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

const args = process.argv.slice(2).filter((a) => a !== '--')
const topIndex = args.indexOf('--top')
const top = topIndex >= 0 ? Number(args.splice(topIndex, 2)[1]) : 25
const skipIndex = args.indexOf('--skip-s')
/** Seconds at the start of each profile to leave out (start-up: module loading, tsx compiling). */
const skipSeconds = skipIndex >= 0 ? Number(args.splice(skipIndex, 2)[1]) : 0

function files(path: string): string[] {
  // in a folder, the main threads' profiles only (CPU.<date>.<time>.<pid>.<thread>.<seq>; thread 0 is
  // the main thread, others are e.g. tsx's module-loading worker)
  if (statSync(path).isDirectory()) return readdirSync(path).flatMap((entry) => files(join(path, entry))).filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f))
  return path.endsWith('.cpuprofile') ? [path] : []
}

/** Which package (or part of Node) a script belongs to. */
export function packageOf(url: string): string {
  if (!url) return '(native/V8)'
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`
  const pnpm = /node_modules\/\.pnpm\/([^/]+)\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pnpm) return pnpm[2]!
  const plain = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (plain) return plain[1]!
  const ours = /\/(services|packages|bench)\/([^/]+)\//.exec(url)
  if (ours) return `${ours[1]}/${ours[2]}`
  return url.replace(/^file:\/\//, '')
}

export function summarise(profile: Profile, limit = 25, skip = 0): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const self = new Map<number, number>()
  let at = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0
    if (at - profile.startTime < skip * 1e6) continue
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const total = (profile.endTime - profile.startTime) / 1000 - skip * 1000
  const key = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${packageOf(n.callFrame.url)}${n.callFrame.url && !n.callFrame.url.includes('node_modules') ? `:${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber + 1}` : ''}`
  const selfByFn = new Map<string, number>()
  const selfByPkg = new Map<string, number>()
  const inclusiveByFn = new Map<string, number>()
  for (const [id, us] of self) {
    const node = byId.get(id)!
    const name = node.callFrame.functionName
    const special = name.startsWith('(') ? name : undefined
    selfByFn.set(key(node), (selfByFn.get(key(node)) ?? 0) + us)
    const pkg = special ?? packageOf(node.callFrame.url)
    selfByPkg.set(pkg, (selfByPkg.get(pkg) ?? 0) + us)
    // inclusive: credit every distinct function on the stack once
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur)!)
      if (seen.has(k)) continue
      seen.add(k)
      inclusiveByFn.set(k, (inclusiveByFn.get(k) ?? 0) + us)
    }
  }
  const busy = [...self.entries()].filter(([id]) => !['(idle)', '(program)'].includes(byId.get(id)!.callFrame.functionName)).reduce((a, [, us]) => a + us, 0) / 1000
  const pct = (us: number) => `${((us / 1000 / busy) * 100).toFixed(1)}%`.padStart(6)
  const ms = (us: number) => `${(us / 1000).toFixed(0)} ms`.padStart(9)
  const lines: string[] = [`profile: ${total.toFixed(0)} ms wall, ${busy.toFixed(0)} ms on the JS thread (excl. idle/program); shares below are of that`]
  lines.push('self time by package:')
  for (const [pkg, us] of [...selfByPkg].filter(([p]) => p !== '(idle)' && p !== '(program)').sort((a, b) => b[1] - a[1]).slice(0, limit)) lines.push(`  ${pct(us)} ${ms(us)}  ${pkg}`)
  lines.push('self time by function:')
  for (const [fn, us] of [...selfByFn].filter(([f]) => !f.startsWith('(idle)') && !f.startsWith('(program)')).sort((a, b) => b[1] - a[1]).slice(0, limit)) lines.push(`  ${pct(us)} ${ms(us)}  ${fn}`)
  lines.push('inclusive time by function (our code and entry points):')
  for (const [fn, us] of [...inclusiveByFn]
    .filter(([f]) => /services\/|packages\/|fastify|reply-from|undici|minio|pg |kysely|pino|jwt|sharp|bullmq|ioredis/.test(f) && !f.startsWith('('))
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit))
    lines.push(`  ${pct(us)} ${ms(us)}  ${fn}`)
  return lines.join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (args.length === 0) {
    console.error('usage: profile-summary <file.cpuprofile or folder>… [--top N]')
    process.exit(2)
  }
  // pnpm runs scripts in the package's folder; paths are meant from where the command was typed
  const base = process.env.INIT_CWD ?? process.cwd()
  for (const file of args.map((a) => resolve(base, a)).flatMap(files)) {
    console.log(`\n=== ${file}`)
    console.log(summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, top, skipSeconds))
  }
}
