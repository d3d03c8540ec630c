// Preloaded into a service by the upload benchmark (node --import): every 100 ms, one JSON line on
// stderr with what the process's memory is made of, so a high RSS can be told apart as JS heap,
// Buffers (external/arrayBuffers) or the rest (code, native libraries, allocator slack).
const MiB = 1024 * 1024
const timer = setInterval(() => {
  const m = process.memoryUsage()
  process.stderr.write(
    `${JSON.stringify({ level: 30, msg: 'memprobe', rss: m.rss / MiB, heapTotal: m.heapTotal / MiB, heapUsed: m.heapUsed / MiB, external: m.external / MiB, arrayBuffers: m.arrayBuffers / MiB })}\n`,
  )
}, 100)
timer.unref()
