import { readFileSync, readdirSync } from 'node:fs'

/** CPU and memory of processes, read from /proc (Linux). */

const TICKS = 100 // USER_HZ on Linux

/** User + system CPU seconds a process has used so far (0 once it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after the ")" that ends the command name: state is field 3, utime 14, stime 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS
  } catch {
    return 0
  }
}

function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return undefined
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')
  } catch {
    return ''
  }
}

/**
 * CPU seconds of the Postgres backends serving `database` (their process titles name it) and of
 * redis-server (shared with any other user of this Redis). Per process, so backends that start
 * or end in an interval are counted from when they are first seen.
 */
export function databaseCpu(database: string | undefined): Map<number, number> {
  const out = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    const name = comm(pid)
    if (name === 'redis-server' || (name === 'postgres' && database !== undefined && cmdline(pid).includes(` ${database} `))) out.set(pid, cpuSeconds(pid))
  }
  return out
}

/** Whole-machine busy and total CPU seconds (all cores) since boot. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!
  const values = line.trim().split(/\s+/).slice(1).map(Number)
  const total = values.reduce((a, b) => a + b, 0)
  const idle = (values[3] ?? 0) + (values[4] ?? 0) // idle + iowait
  return { busy: (total - idle) / TICKS, total: total / TICKS }
}

export function memoryKiB(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0)
    return { rss: field('VmRSS'), hwm: field('VmHWM') }
  } catch {
    return { rss: 0, hwm: 0 }
  }
}

export function loadAverage(): number[] {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number)
}

/** Polls a process's resident memory; `peakMiB` is the highest VmRSS seen while it ran. */
export function sampleRss(pid: number, intervalMs = 20): { stop(): { peakMiB: number; hwmMiB: number; samples: number } } {
  let peak = 0
  let samples = 0
  const tick = () => {
    const { rss } = memoryKiB(pid)
    samples++
    if (rss > peak) peak = rss
  }
  tick()
  const timer = setInterval(tick, intervalMs)
  return {
    stop() {
      clearInterval(timer)
      tick()
      return { peakMiB: peak / 1024, hwmMiB: memoryKiB(pid).hwm / 1024, samples }
    },
  }
}

/**
 * CPU used over an interval by our processes, by Postgres and Redis, and by the whole machine,
 * so a slow run can be told apart from a busy machine (other work on the 2 cores).
 */
export class CpuMeter {
  private start: { procs: Record<string, number>; db: Map<number, number>; machine: { busy: number; total: number }; wall: number } | undefined
  /** `database`: the benchmark's own database, whose Postgres backends are counted (not other users'). */
  constructor(
    /** A name per process; a name may stand for several processes (the store's daemons), whose CPU is summed. */
    private readonly pids: () => Record<string, number | number[] | undefined>,
    private readonly database?: string,
  ) {}

  private snapshot() {
    const procs: Record<string, number> = {}
    for (const [name, pid] of Object.entries(this.pids())) {
      if (Array.isArray(pid)) procs[name] = pid.reduce((sum, p) => sum + cpuSeconds(p), 0)
      else if (pid) procs[name] = cpuSeconds(pid)
    }
    return { procs, db: databaseCpu(this.database), machine: machineCpu(), wall: performance.now() }
  }

  begin(): void {
    this.start = this.snapshot()
  }

  end(): CpuReport {
    const start = this.start
    if (!start) throw new Error('CpuMeter.end() before begin()')
    const now = this.snapshot()
    const procs: Record<string, number> = {}
    let ours = 0
    for (const [name, seconds] of Object.entries(now.procs)) {
      const used = seconds - (start.procs[name] ?? seconds)
      procs[name] = used
      ours += used
    }
    let db = 0
    for (const [pid, seconds] of now.db) db += seconds - (start.db.get(pid) ?? 0)
    const busy = now.machine.busy - start.machine.busy
    const wallSeconds = (now.wall - start.wall) / 1000
    return { wallSeconds, procs, postgresRedis: db, machineBusy: busy, other: Math.max(0, busy - ours - db) }
  }
}

export interface CpuReport {
  wallSeconds: number
  /** CPU seconds per named process. */
  procs: Record<string, number>
  postgresRedis: number
  machineBusy: number
  /** Busy CPU seconds not accounted for by our processes, Postgres or Redis: other work on the machine. */
  other: number
}

/** Moves a known process's CPU (e.g. the load generator's) out of "other" into its own entry. */
export function attribute(report: CpuReport, name: string, seconds: number): CpuReport {
  return { ...report, procs: { ...report.procs, [name]: seconds }, other: Math.max(0, report.other - seconds) }
}

export function describeCpu(report: CpuReport): string {
  const parts = Object.entries(report.procs).map(([name, s]) => `${name} ${s.toFixed(2)}`)
  parts.push(`pg+redis ${report.postgresRedis.toFixed(2)}`, `other ${report.other.toFixed(2)}`)
  return `CPU s over ${report.wallSeconds.toFixed(2)} s wall: ${parts.join(', ')}`
}
