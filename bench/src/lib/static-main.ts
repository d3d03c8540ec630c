// The limits for view serving, each in its own process like the services:
//   memory <file>          a minimal node:http server answering every request with the file's bytes, held in memory
//   fastify-memory <file>  Fastify with one route answering the bytes from memory (what the framework costs)
//   fastify-static <file>  Fastify with @fastify/static serving the file from disk
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { basename, dirname } from 'node:path'
import type { AddressInfo } from 'node:net'

const [mode, file] = process.argv.slice(2)
if (!file || (mode !== 'memory' && mode !== 'fastify-static' && mode !== 'fastify-memory')) {
  console.error('usage: static-main.ts memory|fastify-memory|fastify-static <file>')
  process.exit(2)
}
// the type the file's extension names (the view benchmark serves a negotiated AVIF thumbnail)
const contentType = ({ avif: 'image/avif', webp: 'image/webp', png: 'image/png' } as Record<string, string>)[file.split('.').pop() ?? ''] ?? 'image/jpeg'
const announce = (port: number) => process.stdout.write(`${JSON.stringify({ msg: `listening at http://127.0.0.1:${port}`, path: `/${basename(file)}` })}\n`)

if (mode === 'memory') {
  const body = readFileSync(file)
  const headers = { 'content-type': contentType, 'content-length': String(body.length), 'cache-control': 'public, max-age=31536000, immutable', etag: '"bench"' }
  const server = createServer((_req, res) => {
    res.writeHead(200, headers)
    res.end(body)
  })
  server.listen(0, '127.0.0.1', () => announce((server.address() as AddressInfo).port))
  process.once('SIGTERM', () => server.close(() => process.exit(0)))
} else if (mode === 'fastify-memory') {
  const { default: Fastify } = await import('fastify')
  const body = readFileSync(file)
  const app = Fastify({ logger: false })
  app.get(`/${basename(file)}`, (_request, reply) => {
    reply.headers({ 'content-type': contentType, 'cache-control': 'public, max-age=31536000, immutable', etag: '"bench"' }).send(body)
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  announce((app.server.address() as AddressInfo).port)
  process.once('SIGTERM', () => app.close().then(() => process.exit(0)))
} else {
  const { default: Fastify } = await import('fastify')
  const { default: fastifyStatic } = await import('@fastify/static')
  const app = Fastify({ logger: false })
  await app.register(fastifyStatic, { root: dirname(file), maxAge: 31_536_000_000, immutable: true })
  await app.listen({ host: '127.0.0.1', port: 0 })
  announce((app.server.address() as AddressInfo).port)
  process.once('SIGTERM', () => app.close().then(() => process.exit(0)))
}
