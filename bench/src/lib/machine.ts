import { execFileSync } from 'node:child_process'
import { cpus, totalmem } from 'node:os'
import sharp from 'sharp'
import { loadAverage } from './procstat.js'

export interface MachineInfo {
  cores: number
  cpuModel: string
  memoryGiB: number
  node: string
  sharp: string
  libvips: string
  sharpConcurrency: number
  uvThreadpoolSize: string
  postgres: string
  redis: string
  wrk: string
  loadAverage: number[]
  date: string
  /** The code measured: HEAD and how many tracked files differ from it. */
  git: string
}

function tryRun(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string }
    return (e.stdout || e.stderr || 'not found').toString().trim()
  }
}

export function machineInfo(): MachineInfo {
  const versions = sharp.versions as Record<string, string>
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    sharp: versions.sharp ?? 'unknown',
    libvips: versions.vips ?? 'unknown',
    sharpConcurrency: sharp.concurrency(),
    uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    postgres: tryRun('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-Atc', 'show server_version']).split('\n')[0] ?? '',
    redis: /v=(\S+)/.exec(tryRun('redis-server', ['--version']))?.[1] ?? 'unknown',
    wrk: tryRun('wrk', ['--version']).split('\n')[0]?.replace(/\s*\[.*$/, '') ?? 'not installed',
    loadAverage: loadAverage(),
    date: new Date().toString(),
    git: `${tryRun('git', ['-C', new URL('../../..', import.meta.url).pathname, 'rev-parse', '--short', 'HEAD'])} (${tryRun('git', ['-C', new URL('../../..', import.meta.url).pathname, 'status', '--porcelain', '--untracked-files=no']).split('\n').filter(Boolean).length} tracked files modified)`,
  }
}

export function describeMachine(m: MachineInfo): string {
  return [
    `cores: ${m.cores} (${m.cpuModel}), memory: ${m.memoryGiB} GiB`,
    `Node ${m.node}, sharp ${m.sharp}, libvips ${m.libvips} (sharp.concurrency() = ${m.sharpConcurrency}, UV_THREADPOOL_SIZE ${m.uvThreadpoolSize})`,
    `PostgreSQL ${m.postgres}, Redis ${m.redis}, ${m.wrk}`,
    `load average at start: ${m.loadAverage.join(' ')}; code: ${m.git}`,
  ].join('\n')
}
