// Follow-up measurements behind BENCHMARKS.md's diagnoses (not part of `pnpm bench`):
//   pnpm --filter @imageapi/bench run diagnose -- storage-read   reading an original into memory: the
//        storage package's getObjectBuffer (node:stream/consumers buffer(), via a Blob) against one
//        preallocated copy of the same stream
//   pnpm --filter @imageapi/bench run diagnose -- rss            resident memory of an idle gateway vs.
//        a bare Node process and one that only loads tsx
import { spawn } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { createBenchEnvironment } from './lib/environment.js'
import { stopBenchStore } from './lib/store.js'
import { loadJpeg, loadPng } from './lib/inputs.js'
import { cpuSeconds, memoryKiB } from './lib/procstat.js'
import { fmt, median } from './lib/stats.js'

const what = process.argv.slice(2).filter((a) => a !== '--')

async function readAll(stream: NodeJS.ReadableStream, size: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    chunk.copy(out, at)
    at += chunk.length
  }
  return out.subarray(0, at)
}

async function storageRead(): Promise<void> {
  const env = await createBenchEnvironment('diagnose')
  try {
    for (const input of [await loadJpeg(), await loadPng()]) {
      const key = `originals/diagnose.${input.format}`
      await env.storage.putObject(key, input.data, input.data.length, `image/${input.format}`)
      const readers = {
        getObjectBuffer: () => env.storage.getObjectBuffer(key),
        preallocated: async () => readAll(await env.storage.getObject(key), input.data.length),
      }
      // each reader in its own loop, so its CPU (incl. the GC it causes) is summed over many reads
      for (let round = 0; round < 2; round++) {
        for (const [name, read] of Object.entries(readers)) {
          const n = 15
          global.gc?.()
          const cpu0 = cpuSeconds(process.pid)
          const ms: number[] = []
          for (let i = 0; i < n; i++) {
            const t = performance.now()
            const data = await read()
            ms.push(performance.now() - t)
            if (data.length !== input.data.length) throw new Error(`${name} read ${data.length} bytes`)
          }
          const cpu = ((cpuSeconds(process.pid) - cpu0) * 1000) / n
          if (round === 1) console.log(`${input.format} ${(input.data.length / 1e6).toFixed(1)} MB ${name}: ${fmt(median(ms))} ms wall (median), ${fmt(cpu)} ms CPU per read of this process (${n} reads)`)
        }
      }
    }
  } finally {
    await env.cleanup.run()
  }
}

async function rssOf(args: string[], settleMs: number): Promise<number> {
  const child = spawn(process.execPath, args, { stdio: 'ignore', cwd: new URL('../..', import.meta.url).pathname })
  await sleep(settleMs)
  const { rss } = memoryKiB(child.pid!)
  child.kill('SIGKILL')
  return rss / 1024
}

async function rss(): Promise<void> {
  const env = await createBenchEnvironment('diagnose')
  try {
    const keep = '-e setInterval(() => {}, 1000)'
    console.log(`bare node: ${fmt(await rssOf(['-e', 'setInterval(() => {}, 1000)'], 1500))} MiB`)
    console.log(`node --import tsx (nothing else): ${fmt(await rssOf(['--import', 'tsx', ...keep.split(' ').slice(0, 1), keep.slice(3)], 3000))} MiB`)
    const gateway = await env.start('gateway')
    await sleep(1000)
    console.log(`gateway from source (tsx), idle after start: ${fmt(memoryKiB(gateway.process.pid!).rss / 1024)} MiB, CPU to start ${fmt(cpuSeconds(gateway.process.pid!))} s`)
    await gateway.stop()
  } finally {
    await env.cleanup.run()
  }
}

if (what.length === 0 || what.includes('storage-read')) await storageRead()
if (what.length === 0 || what.includes('rss')) await rss()
await stopBenchStore()
process.exit(0)
