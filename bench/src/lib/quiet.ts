import { setTimeout as sleep } from 'node:timers/promises'
import { machineCpu } from './procstat.js'

/**
 * Other work on the machine (a test suite, a build) skews every figure on 2 cores. Before each
 * benchmark, wait until the machine has been nearly idle for a few seconds, up to
 * BENCH_QUIET_MAX_S (default 20; 0 = do not wait). The CPU split printed with each result shows
 * how much "other" work remained during the runs.
 */
export async function waitForQuiet(log: (line: string) => void): Promise<void> {
  const maxSeconds = Number(process.env.BENCH_QUIET_MAX_S ?? 20)
  if (!(maxSeconds > 0)) return
  const threshold = Number(process.env.BENCH_QUIET_CORES ?? 0.25) // busy cores
  const windowMs = 3000
  const deadline = Date.now() + maxSeconds * 1000
  let busy = Infinity
  while (Date.now() < deadline) {
    const a = machineCpu()
    await sleep(windowMs)
    const b = machineCpu()
    busy = (b.busy - a.busy) / (windowMs / 1000)
    if (busy <= threshold) return
  }
  log(`  the machine stayed busy (${busy.toFixed(2)} cores in use by other work after ${maxSeconds} s); measuring anyway`)
}
