import { createHash } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'

/**
 * Benchmark inputs: a 12 MP JPEG (4000×3000, like a phone camera's) and an 8 MP PNG (3264×2448),
 * either from BENCH_JPEG / BENCH_PNG or generated from a fixed seed, so every run and every
 * machine measures the same bytes. Generated files are cached in bench/.cache by their recipe.
 *
 * "Real-looking" matters: flat colour or pure noise makes encoders and decoders behave unlike on
 * photos. The generator paints a scene (sky gradient, hills, objects with hard and soft edges),
 * multiplies in multi-octave texture and adds sensor grain, then saves the JPEG the way a camera
 * does (quality 90, 4:2:0, EXIF with make/model/orientation).
 */

export interface BenchInput {
  name: string
  path: string | undefined
  data: Buffer
  format: 'jpeg' | 'png'
  width: number
  height: number
  /** Where it came from: the env var's file or the generator's recipe. */
  source: string
  sha256: string
}

const CACHE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../.cache')
const RECIPE_VERSION = 3
const SEED = 20261127

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function sceneSvg(width: number, height: number, random: () => number): string {
  const hue = () => Math.floor(random() * 360)
  const parts: string[] = []
  parts.push(`<defs>`)
  parts.push(
    `<linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="hsl(${205 + Math.floor(random() * 20)},70%,55%)"/><stop offset="1" stop-color="hsl(${30 + Math.floor(random() * 20)},60%,85%)"/></linearGradient>`,
  )
  for (let i = 0; i < 12; i++) {
    parts.push(
      `<radialGradient id="g${i}"><stop offset="0" stop-color="hsl(${hue()},${40 + Math.floor(random() * 50)}%,${30 + Math.floor(random() * 50)}%)"/><stop offset="1" stop-color="hsl(${hue()},${30 + Math.floor(random() * 50)}%,${15 + Math.floor(random() * 40)}%)"/></radialGradient>`,
    )
  }
  parts.push(`<filter id="soft"><feGaussianBlur stdDeviation="${(width / 800).toFixed(1)}"/></filter></defs>`)
  parts.push(`<rect width="${width}" height="${height}" fill="url(#sky)"/>`)
  // clouds
  for (let i = 0; i < 25; i++) {
    const x = random() * width
    const y = random() * height * 0.4
    parts.push(`<ellipse cx="${x.toFixed(0)}" cy="${y.toFixed(0)}" rx="${(width * (0.03 + random() * 0.1)).toFixed(0)}" ry="${(height * (0.01 + random() * 0.04)).toFixed(0)}" fill="white" opacity="${(0.2 + random() * 0.5).toFixed(2)}" filter="url(#soft)"/>`)
  }
  // hills: polylines across the width
  for (let layer = 0; layer < 4; layer++) {
    const base = height * (0.45 + layer * 0.13)
    let d = `M0,${height} L0,${base.toFixed(0)}`
    for (let x = 0; x <= width; x += width / 40) d += ` L${x.toFixed(0)},${(base - random() * height * 0.12).toFixed(0)}`
    d += ` L${width},${height} Z`
    parts.push(`<path d="${d}" fill="hsl(${90 + Math.floor(random() * 60)},${30 + layer * 10}%,${40 - layer * 7}%)"/>`)
  }
  // objects: rocks, trees, buildings: hard edges with gradients
  for (let i = 0; i < 160; i++) {
    const x = random() * width
    const y = height * 0.4 + random() * height * 0.6
    const size = width * (0.005 + random() * random() * 0.08)
    const fill = `url(#g${i % 12})`
    const kind = random()
    if (kind < 0.4) parts.push(`<circle cx="${x.toFixed(0)}" cy="${y.toFixed(0)}" r="${size.toFixed(0)}" fill="${fill}"/>`)
    else if (kind < 0.75) parts.push(`<rect x="${x.toFixed(0)}" y="${(y - size * 2).toFixed(0)}" width="${size.toFixed(0)}" height="${(size * 2).toFixed(0)}" fill="${fill}" transform="rotate(${(random() * 10 - 5).toFixed(1)} ${x.toFixed(0)} ${y.toFixed(0)})"/>`)
    else parts.push(`<polygon points="${x.toFixed(0)},${(y - size * 2.5).toFixed(0)} ${(x - size).toFixed(0)},${y.toFixed(0)} ${(x + size).toFixed(0)},${y.toFixed(0)}" fill="${fill}"/>`)
  }
  // thin lines (wires, branches): high-frequency detail
  for (let i = 0; i < 60; i++) {
    parts.push(
      `<line x1="${(random() * width).toFixed(0)}" y1="${(random() * height).toFixed(0)}" x2="${(random() * width).toFixed(0)}" y2="${(random() * height).toFixed(0)}" stroke="hsl(${hue()},20%,${Math.floor(random() * 40)}%)" stroke-width="${(1 + random() * 4).toFixed(1)}"/>`,
    )
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`
}

/** Multi-octave value noise at full size, via small random grids upsampled by libvips. */
async function texture(width: number, height: number, random: () => number): Promise<Float32Array> {
  const out = new Float32Array(width * height)
  const octaves = [
    { cell: 256, weight: 0.35 },
    { cell: 48, weight: 0.3 },
    { cell: 9, weight: 0.2 },
    { cell: 2, weight: 0.15 },
  ]
  for (const { cell, weight } of octaves) {
    const w = Math.ceil(width / cell) + 1
    const h = Math.ceil(height / cell) + 1
    const grid = Buffer.alloc(w * h)
    for (let i = 0; i < grid.length; i++) grid[i] = Math.floor(random() * 256)
    const up = await sharp(grid, { raw: { width: w, height: h, channels: 1 } })
      .resize(w * cell, h * cell, { kernel: 'cubic' })
      .extract({ left: 0, top: 0, width, height })
      .raw()
      .toBuffer()
    for (let i = 0; i < out.length; i++) out[i]! += ((up[i]! - 128) / 128) * weight
  }
  return out
}

export async function photoLikePixels(width: number, height: number, seed: number, grain: number): Promise<Buffer> {
  const random = prng(seed)
  const scene = await sharp(Buffer.from(sceneSvg(width, height, random)), { density: 72 })
    .resize(width, height, { fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer()
  const tex = await texture(width, height, random)
  const out = Buffer.alloc(width * height * 3)
  const noise = prng(seed ^ 0x5bd1e995)
  for (let p = 0, i = 0; p < tex.length; p++, i += 3) {
    const shade = 1 + tex[p]! * 0.28
    // luminance grain plus a little chroma grain, like a sensor at moderate ISO
    const g = (noise() - 0.5) * grain
    for (let c = 0; c < 3; c++) {
      const v = scene[i + c]! * shade + g + (noise() - 0.5) * grain * 0.35
      out[i + c] = v < 0 ? 0 : v > 255 ? 255 : v
    }
  }
  return out
}

async function cached(key: string, make: () => Promise<Buffer>): Promise<Buffer> {
  const path = join(CACHE_DIR, key)
  try {
    return await readFile(path)
  } catch {
    const data = await make()
    await mkdir(dirname(path), { recursive: true })
    await writeFile(path, data)
    return data
  }
}

async function describe(name: string, data: Buffer, path: string | undefined, source: string): Promise<BenchInput> {
  const meta = await sharp(data).metadata()
  if (meta.format !== 'jpeg' && meta.format !== 'png') throw new Error(`${source}: not a JPEG or PNG (${meta.format})`)
  return {
    name,
    path,
    data,
    format: meta.format,
    width: meta.autoOrient.width,
    height: meta.autoOrient.height,
    source,
    sha256: createHash('sha256').update(data).digest('hex').slice(0, 16),
  }
}

export async function loadJpeg(): Promise<BenchInput> {
  const given = process.env.BENCH_JPEG
  if (given) return describe('jpeg', await readFile(given), given, `BENCH_JPEG=${given}`)
  const [width, height] = [4000, 3000]
  const key = `photo-${RECIPE_VERSION}-${SEED}-${width}x${height}.jpg`
  const data = await cached(key, async () =>
    sharp(await photoLikePixels(width, height, SEED, 14), { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 90, chromaSubsampling: '4:2:0' })
      .withExif({ IFD0: { Make: 'Bench', Model: 'Seeded Camera 12MP', Software: 'imageapi bench' } })
      .withMetadata({ orientation: 1 })
      .toBuffer(),
  )
  return describe('jpeg', data, join(CACHE_DIR, key), `generated: seed ${SEED}, recipe v${RECIPE_VERSION} (scene + texture + grain, q90 4:2:0, EXIF)`)
}

export async function loadPng(): Promise<BenchInput> {
  const given = process.env.BENCH_PNG
  if (given) return describe('png', await readFile(given), given, `BENCH_PNG=${given}`)
  const [width, height] = [3264, 2448]
  const key = `photo-${RECIPE_VERSION}-${SEED + 1}-${width}x${height}.png`
  const data = await cached(key, async () =>
    sharp(await photoLikePixels(width, height, SEED + 1, 14), { raw: { width, height, channels: 3 } })
      .png({ compressionLevel: 6 })
      .toBuffer(),
  )
  return describe('png', data, join(CACHE_DIR, key), `generated: seed ${SEED + 1}, recipe v${RECIPE_VERSION} (scene + texture + grain, zlib level 6)`)
}
