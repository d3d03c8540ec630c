// `pnpm --filter @imageapi/bench run format-study`: which WebP and AVIF settings should the thumbnail
// worker use by default for the renditions it makes next to each source-format thumbnail?
//
// For every input photo: decode once at the largest height the way the worker does (EXIF orientation
// applied, resize to exactly round(w*H/h) × H with fit 'fill', raw 8-bit sRGB), resize those pixels
// to the smaller height, and from the raw pixels of each height encode
//   - the source-format thumbnail as the worker does today (JPEG q80 without mozjpeg, or PNG zlib 6),
//   - WebP at every quality × effort of the grid, and AVIF likewise,
// measuring bytes, CPU time and wall time of a single sequential encode (median of REPEATS runs; slow
// encodes once), and
// SSIM (ssim.js) and RGB PSNR of the decoded encode against the raw pixels it was encoded from.
// Results: bench/results/format-study.json and .md; the markdown is printed too.
//
// Inputs: the bench's own JPEG and PNG (lib/inputs.ts) plus photographs from Debian's wallpaper
// packages (WALLPAPERS below; install with
// `apt-get install -y --no-install-recommends plasma-workspace-wallpapers mate-backgrounds`).
// Missing files are skipped with a warning. FORMAT_STUDY_REPEATS (default 3) sets the repeats;
// FORMAT_STUDY_ONLY=name,name limits the inputs (a quick look; the decision needs the full set).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import sharp, { type Sharp } from 'sharp'
import { ssim } from 'ssim.js'
import { loadJpeg, loadPng } from './lib/inputs.js'
import { loadAverage, machineCpu } from './lib/procstat.js'
import { waitForQuiet } from './lib/quiet.js'
import { fmt, mean, median, round } from './lib/stats.js'

const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../results')
const HEIGHTS = [200, 400] as const
const REPEATS = Math.max(1, Number(process.env.FORMAT_STUDY_REPEATS ?? 3))

/** The worker's source-format settings (services/thumbnail-worker/src/render-thumbnails.ts). */
const JPEG_QUALITY = 80
const PNG_COMPRESSION_LEVEL = 6

// The brief's grid (WebP 60–85, AVIF 40–60) plus one step for WebP (90) and two for AVIF (65, 70):
// on these photos AVIF q60 and WebP e2 q85 stay below the JPEG q80 thumbnail's SSIM, so the rule
// below would otherwise have no answer inside the grid.
const WEBP_QUALITIES = [60, 70, 75, 80, 85, 90]
const AVIF_QUALITIES = [40, 45, 50, 55, 60, 65, 70]
const EFFORTS = [2, 4]
/** An encode whose first run took more CPU than this is not repeated (AVIF effort 4 at 400 px). */
const REPEAT_BELOW_MS = 250
/** Interleaved repeats of the cost check (see checkCosts). */
const COST_REPEATS = Math.max(1, Number(process.env.FORMAT_STUDY_COST_REPEATS ?? 9))

/** The decision rule's fixed numbers (see chooseDefaults). */
const PNG_SSIM_FLOOR = 0.98
/** All enabled renditions together may add at most this much CPU per image to the source-only path. */
const EXTRA_CPU_BUDGET = 1.0

/**
 * Photographs (not vector art or renders) from Debian's wallpaper packages, picked by looking at
 * them: water, sky gradients, foliage, bokeh, fine texture, dark scenes. The largest size each ships.
 */
const WALLPAPERS: Array<{ name: string; pkg: string; path: string }> = [
  { name: 'BytheWater', pkg: 'plasma-workspace-wallpapers', path: '/usr/share/wallpapers/BytheWater/contents/images/2560x1600.jpg' },
  { name: 'ColorfulCups', pkg: 'plasma-workspace-wallpapers', path: '/usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg' },
  { name: 'EveningGlow', pkg: 'plasma-workspace-wallpapers', path: '/usr/share/wallpapers/EveningGlow/contents/images/2560x1600.jpg' },
  { name: 'FallenLeaf', pkg: 'plasma-workspace-wallpapers', path: '/usr/share/wallpapers/FallenLeaf/contents/images/2560x1600.jpg' },
  { name: 'Kite', pkg: 'plasma-workspace-wallpapers', path: '/usr/share/wallpapers/Kite/contents/images/2560x1600.jpg' },
  { name: 'OneStandsOut', pkg: 'plasma-workspace-wallpapers', path: '/usr/share/wallpapers/OneStandsOut/contents/images/2560x1600.jpg' },
  { name: 'Path', pkg: 'plasma-workspace-wallpapers', path: '/usr/share/wallpapers/Path/contents/images/2560x1600.jpg' },
  { name: 'summer_1am', pkg: 'plasma-workspace-wallpapers', path: '/usr/share/wallpapers/summer_1am/contents/images/2560x1600.jpg' },
  { name: 'Dune', pkg: 'mate-backgrounds', path: '/usr/share/backgrounds/mate/nature/Dune.jpg' },
  { name: 'LadyBird', pkg: 'mate-backgrounds', path: '/usr/share/backgrounds/mate/nature/LadyBird.jpg' },
  { name: 'RainDrops', pkg: 'mate-backgrounds', path: '/usr/share/backgrounds/mate/nature/RainDrops.jpg' },
  { name: 'Storm', pkg: 'mate-backgrounds', path: '/usr/share/backgrounds/mate/nature/Storm.jpg' },
]

type SourceKind = 'jpeg' | 'png'
type EncodeFormat = 'jpeg' | 'png' | 'webp' | 'avif'

interface Raw {
  data: Buffer
  width: number
  height: number
  channels: 1 | 2 | 3 | 4
}

interface Timed {
  cpuMs: number
  wallMs: number
}

interface Encoding extends Timed {
  format: EncodeFormat
  quality: number | null
  effort: number | null
  bytes: number
  ssim: number
  psnr: number
  /** Measured by the refinement step (a quality between two of the grid's), not the grid. */
  refined?: boolean
}

interface HeightResult {
  height: number
  width: number
  /** Resizing the largest height's raw pixels to this height (0 for the largest). */
  resize: Timed
  source: Encoding
  renditions: Encoding[]
}

interface PhotoResult {
  name: string
  origin: string
  path: string
  kind: SourceKind
  width: number
  height: number
  fileBytes: number
  /** Reading the header and decoding once at the largest height, as the worker does. */
  decode: Timed
  heights: HeightResult[]
}

// ---------------------------------------------------------------- measuring

// A full GC before each measured run, so that garbage from the SSIM computations (ssim.js allocates
// a lot) is not collected by V8's helper threads while an encode is being timed: process.cpuUsage()
// counts every thread of the process.
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void
// libvips' operation cache could serve a repeated decode of the same buffer; the worker never
// decodes the same bytes twice, so measure without it.
sharp.cache(false)

function cpuMsNow(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/**
 * Runs `fn` REPEATS times, one at a time (once only if the first run took more than REPEAT_BELOW_MS
 * of CPU); the result of the last run, median CPU and wall time.
 */
async function timed<T>(fn: () => Promise<T>, repeats = REPEATS): Promise<{ result: T } & Timed> {
  const cpu: number[] = []
  const wall: number[] = []
  let result!: T
  for (let i = 0; i < repeats; i++) {
    if (i === 1 && cpu[0]! > REPEAT_BELOW_MS) break
    collectGarbage()
    const c0 = cpuMsNow()
    const w0 = performance.now()
    result = await fn()
    wall.push(performance.now() - w0)
    cpu.push(cpuMsNow() - c0)
  }
  return { result, cpuMs: median(cpu), wallMs: median(wall) }
}

function toRgba(raw: Raw): Uint8ClampedArray {
  const { data, width, height, channels } = raw
  const out = new Uint8ClampedArray(width * height * 4)
  for (let p = 0, i = 0; p < width * height; p++, i += channels) {
    const o = p * 4
    if (channels >= 3) {
      out[o] = data[i]!
      out[o + 1] = data[i + 1]!
      out[o + 2] = data[i + 2]!
    } else {
      out[o] = out[o + 1] = out[o + 2] = data[i]!
    }
    out[o + 3] = channels === 4 || channels === 2 ? data[i + channels - 1]! : 255
  }
  return out
}

function psnr(a: Uint8ClampedArray, b: Uint8ClampedArray): number {
  let se = 0
  let n = 0
  for (let i = 0; i < a.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      const d = a[i + c]! - b[i + c]!
      se += d * d
      n++
    }
  }
  const mse = se / n
  return mse === 0 ? 99 : 10 * Math.log10((255 * 255) / mse)
}

interface Reference {
  raw: Raw
  rgba: Uint8ClampedArray
}

/**
 * SSIM on full-resolution luma (ssim.js 'weber', 11×11 window; downsample off: thumbnails are
 * shown 1:1, and ssim.js's default would halve a 400 px image before comparing).
 */
async function quality(encoded: Buffer, ref: Reference): Promise<{ ssim: number; psnr: number }> {
  const { data, info } = await sharp(encoded).raw().toBuffer({ resolveWithObject: true })
  if (info.width !== ref.raw.width || info.height !== ref.raw.height) {
    throw new Error(`decoded ${info.width}×${info.height}, expected ${ref.raw.width}×${ref.raw.height}`)
  }
  const rgba = toRgba({ data, width: info.width, height: info.height, channels: info.channels as Raw['channels'] })
  const { mssim } = ssim(
    { data: ref.rgba, width: ref.raw.width, height: ref.raw.height },
    { data: rgba, width: info.width, height: info.height },
    { downsample: false },
  )
  return { ssim: mssim, psnr: psnr(ref.rgba, rgba) }
}

function pipelineFor(raw: Raw, format: EncodeFormat, q: number | null, effort: number | null): Sharp {
  const p = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } })
  switch (format) {
    case 'jpeg':
      return p.jpeg({ quality: JPEG_QUALITY, mozjpeg: false })
    case 'png':
      return p.png({ compressionLevel: PNG_COMPRESSION_LEVEL })
    case 'webp':
      return p.webp({ quality: q!, effort: effort! })
    case 'avif':
      return p.avif({ quality: q!, effort: effort! })
  }
}

async function encode(ref: Reference, format: EncodeFormat, q: number | null = null, effort: number | null = null): Promise<Encoding> {
  const { result, cpuMs, wallMs } = await timed(() => pipelineFor(ref.raw, format, q, effort).toBuffer())
  return { format, quality: q, effort, bytes: result.length, cpuMs, wallMs, ...(await quality(result, ref)) }
}

// ---------------------------------------------------------------- one photo

/** The raw pixels each height's encodes were made from, kept for the refinement step. */
const references = new WeakMap<HeightResult, Reference>()

async function study(name: string, origin: string, path: string, input: Buffer, log: (line: string) => void): Promise<PhotoResult> {
  const meta = await sharp(input).metadata()
  if (meta.format !== 'jpeg' && meta.format !== 'png') throw new Error(`${path}: ${meta.format} is not a source format`)
  const kind: SourceKind = meta.format
  const width = meta.autoOrient.width
  const height = meta.autoOrient.height
  const sizes = HEIGHTS.map((h) => ({ height: h, width: Math.max(1, Math.round((width * h) / height)) }))
  const largest = sizes.at(-1)!

  // Decode once at the largest height, exactly as the worker's decodeOnce (header read included).
  const decode = await timed(async () => {
    await sharp(input, { failOn: 'error' }).metadata()
    return sharp(input, { failOn: 'error' })
      .autoOrient()
      .resize(largest.width, largest.height, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true })
  })
  const top: Raw = { data: decode.result.data, width: decode.result.info.width, height: decode.result.info.height, channels: decode.result.info.channels }

  const heights: HeightResult[] = []
  for (const size of sizes) {
    let raw = top
    let resize: Timed = { cpuMs: 0, wallMs: 0 }
    if (size.width !== top.width || size.height !== top.height) {
      const r = await timed(() =>
        sharp(top.data, { raw: { width: top.width, height: top.height, channels: top.channels } })
          .resize(size.width, size.height, { fit: 'fill' })
          .raw()
          .toBuffer({ resolveWithObject: true }),
      )
      raw = { data: r.result.data, width: r.result.info.width, height: r.result.info.height, channels: r.result.info.channels }
      resize = { cpuMs: r.cpuMs, wallMs: r.wallMs }
    }
    const ref: Reference = { raw, rgba: toRgba(raw) }
    const source = await encode(ref, kind)
    const renditions: Encoding[] = []
    for (const effort of EFFORTS) {
      for (const q of WEBP_QUALITIES) renditions.push(await encode(ref, 'webp', q, effort))
      for (const q of AVIF_QUALITIES) renditions.push(await encode(ref, 'avif', q, effort))
    }
    const result: HeightResult = { height: size.height, width: size.width, resize, source, renditions }
    references.set(result, ref)
    heights.push(result)
  }
  const photo: PhotoResult = { name, origin, path, kind, width, height, fileBytes: input.length, decode: { cpuMs: decode.cpuMs, wallMs: decode.wallMs }, heights }
  log(
    `  ${name} (${kind}, ${width}×${height}): decode ${fmt(decode.cpuMs)} ms CPU; ` +
      photo.heights.map((h) => `${h.height}px ${kind} ${h.source.bytes} B SSIM ${h.source.ssim.toFixed(4)}`).join('; '),
  )
  return photo
}

// ---------------------------------------------------------------- refinement

function findEncoding(h: HeightResult, format: EncodeFormat, q: number | null, effort: number | null): Encoding | undefined {
  if (format === h.source.format) return h.source
  return h.renditions.find((r) => r.format === format && r.quality === q && r.effort === effort)
}

/** Rule 1's test: mean SSIM over the JPEG sources at least the JPEG q80 thumbnail's, at every height. */
function reachesSource(jpegPhotos: PhotoResult[], format: EncodeFormat, q: number, effort: number): boolean {
  return HEIGHTS.every((_, hi) => {
    const mine = mean(jpegPhotos.map((p) => findEncoding(p.heights[hi]!, format, q, effort)!.ssim))
    const source = mean(jpegPhotos.map((p) => p.heights[hi]!.source.ssim))
    return mine >= source
  })
}

/**
 * The grid's steps (5 quality points) are coarse next to the differences that decide here, so for
 * each format and effort, bisect between the highest grid quality below the first one that reaches
 * the JPEG thumbnail's SSIM and that one, encoding every photo (the PNG source too) at each probe.
 */
async function refine(photos: PhotoResult[], log: (line: string) => void): Promise<void> {
  const jpegPhotos = photos.filter((p) => p.kind === 'jpeg')
  for (const [format, grid] of [['webp', WEBP_QUALITIES], ['avif', AVIF_QUALITIES]] as const) {
    for (const effort of EFFORTS) {
      const index = grid.findIndex((q) => reachesSource(jpegPhotos, format, q, effort))
      if (index <= 0) continue
      let lo = grid[index - 1]!
      let hi = grid[index]!
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2)
        for (const p of photos) {
          for (const h of p.heights) h.renditions.push({ ...(await encode(references.get(h)!, format, mid, effort)), refined: true })
        }
        if (reachesSource(jpegPhotos, format, mid, effort)) hi = mid
        else lo = mid
      }
      log(`  refined ${format} effort ${effort}: lowest quality reaching the JPEG's SSIM is ${hi} (grid: ${grid[index]})`)
    }
  }
}

// ---------------------------------------------------------------- aggregation

interface Row {
  format: EncodeFormat
  quality: number | null
  effort: number | null
  refined: boolean
  /** Per height, in HEIGHTS order. */
  cells: Array<{ bytes: number; ratio: number; ssim: number; psnr: number; cpuMs: number; wallMs: number; atLeastSource: number }>
}

function aggregate(photos: PhotoResult[]): Row[] {
  const rows: Row[] = []
  const first = photos[0]!
  const order = (f: EncodeFormat) => ['jpeg', 'png', 'webp', 'avif'].indexOf(f)
  const configs = [first.heights[0]!.source, ...first.heights[0]!.renditions].sort(
    (a, b) => order(a.format) - order(b.format) || (a.effort ?? 0) - (b.effort ?? 0) || (a.quality ?? 0) - (b.quality ?? 0),
  )
  for (const c of configs) {
    const cells = HEIGHTS.map((_, hi) => {
      const pairs = photos.map((p) => {
        const h = p.heights[hi]!
        const e = findEncoding(h, c.format, c.quality, c.effort)!
        return { e, src: h.source }
      })
      return {
        bytes: mean(pairs.map((x) => x.e.bytes)),
        ratio: mean(pairs.map((x) => x.e.bytes / x.src.bytes)),
        ssim: mean(pairs.map((x) => x.e.ssim)),
        psnr: mean(pairs.map((x) => x.e.psnr)),
        cpuMs: mean(pairs.map((x) => x.e.cpuMs)),
        wallMs: mean(pairs.map((x) => x.e.wallMs)),
        atLeastSource: pairs.filter((x) => x.e.ssim >= x.src.ssim).length,
      }
    })
    rows.push({ format: c.format, quality: c.quality, effort: c.effort, refined: c.refined === true, cells })
  }
  return rows
}

function label(r: { format: EncodeFormat; quality: number | null; effort: number | null; refined?: boolean }): string {
  if (r.format === 'jpeg') return `jpeg q${JPEG_QUALITY} (today)`
  if (r.format === 'png') return `png level ${PNG_COMPRESSION_LEVEL} (today)`
  return `${r.format} q${r.quality} e${r.effort}${r.refined ? ' (r)' : ''}`
}

function table(rows: Row[], n: number): string {
  const head = ['setting', ...HEIGHTS.flatMap((h) => [`${h}px bytes`, `× src`, `SSIM`, `≥src`, `CPU ms`])]
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '--:')).join('|')}|`]
  for (const r of rows) {
    const cells = r.cells.flatMap((c) => [fmt(c.bytes, 4), c.ratio.toFixed(2), c.ssim.toFixed(4), `${c.atLeastSource}/${n}`, fmt(c.cpuMs)])
    lines.push(`| ${label(r)} | ${cells.join(' | ')} |`)
  }
  return lines.join('\n')
}

// ---------------------------------------------------------------- the decision

interface Choice {
  format: 'webp' | 'avif'
  effort: number
  quality: number | null
  /** false when no quality of the grid reached the source's SSIM at every height. */
  reached: boolean
  bytes: number[]
  ratio: number[]
  ssim: number[]
  /** Encode CPU per image, all heights. */
  cpuMs: number
}

interface PathCost {
  name: string
  cpuMs: number
  imagesPerCoreSecond: number
  ofSourceOnly: number
}

function qualityChoices(rows: Row[]): Choice[] {
  const src = rows.find((r) => r.format === 'jpeg' || r.format === 'png')!
  const out: Choice[] = []
  for (const format of ['webp', 'avif'] as const) {
    for (const effort of EFFORTS) {
      const candidates = rows.filter((r) => r.format === format && r.effort === effort).sort((a, b) => a.quality! - b.quality!)
      const hit = candidates.find((r) => r.cells.every((c, hi) => c.ssim >= src.cells[hi]!.ssim))
      const row = hit ?? candidates.at(-1)!
      out.push({
        format,
        effort,
        quality: row.quality,
        reached: hit !== undefined,
        bytes: row.cells.map((c) => c.bytes),
        ratio: row.cells.map((c) => c.ratio),
        ssim: row.cells.map((c) => c.ssim),
        cpuMs: row.cells.reduce((a, c) => a + c.cpuMs, 0),
      })
    }
  }
  return out
}

/** CPU per image of the worker's path: decode + resizes + source encodes (+ rendition encodes). */
function sourceOnlyCpu(photos: PhotoResult[]): number {
  return mean(photos.map((p) => p.decode.cpuMs + p.heights.reduce((a, h) => a + h.resize.cpuMs + h.source.cpuMs, 0)))
}

function choiceKey(c: { format: EncodeFormat; quality: number | null; effort: number | null }): string {
  return `${c.format} q${c.quality} e${c.effort}`
}

/** Per photo: the source-only path's CPU ms, and each checked setting's encode CPU ms (all heights). */
interface CostCheck {
  repeats: number
  sourcePathMs: Record<string, number>
  encodeMs: Record<string, Record<string, number>>
}

/**
 * The budget decision compares figures of a few tens of ms taken minutes apart on a machine that may
 * have other work, so measure the contenders again, interleaved, COST_REPEATS times per photo (median):
 * the worker's whole source-only path exactly as render-thumbnails does it (header read, one decode at
 * the largest height, each height resized from those pixels in its encode pipeline, JPEG q80 / PNG
 * level 6), then each setting's encodes of all heights from the raw pixels.
 */
async function checkCosts(photos: PhotoResult[], inputs: Map<string, Buffer>, settings: Choice[]): Promise<CostCheck> {
  const check: CostCheck = { repeats: COST_REPEATS, sourcePathMs: {}, encodeMs: {} }
  const measureOnce = async (fn: () => Promise<unknown>) => {
    collectGarbage()
    const c0 = cpuMsNow()
    await fn()
    return cpuMsNow() - c0
  }
  for (const p of photos) {
    const input = inputs.get(p.name)!
    const largest = p.heights.at(-1)!
    const path: number[] = []
    const encodes = new Map<string, number[]>(settings.map((c) => [choiceKey(c), []]))
    for (let i = 0; i < COST_REPEATS; i++) {
      path.push(
        await measureOnce(async () => {
          await sharp(input, { failOn: 'error' }).metadata()
          const { data, info } = await sharp(input, { failOn: 'error' })
            .autoOrient()
            .resize(largest.width, largest.height, { fit: 'fill' })
            .raw()
            .toBuffer({ resolveWithObject: true })
          for (const h of p.heights) {
            let pipeline = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
            if (h.width !== info.width || h.height !== info.height) pipeline = pipeline.resize(h.width, h.height, { fit: 'fill' })
            pipeline = p.kind === 'jpeg' ? pipeline.jpeg({ quality: JPEG_QUALITY, mozjpeg: false }) : pipeline.png({ compressionLevel: PNG_COMPRESSION_LEVEL })
            await pipeline.toBuffer()
          }
        }),
      )
      for (const c of settings) {
        encodes.get(choiceKey(c))!.push(
          await measureOnce(async () => {
            for (const h of p.heights) await pipelineFor(references.get(h)!.raw, c.format, c.quality, c.effort).toBuffer()
          }),
        )
      }
    }
    check.sourcePathMs[p.name] = median(path)
    check.encodeMs[p.name] = Object.fromEntries([...encodes].map(([k, v]) => [k, median(v)]))
  }
  return check
}

/** Source-only CPU per image: the cost check's figure where there is one, else the study's. */
function baseCpu(photos: PhotoResult[], check: CostCheck | undefined): number {
  return check ? mean(photos.map((p) => check.sourcePathMs[p.name]!)) : sourceOnlyCpu(photos)
}

function encodeCpu(photos: PhotoResult[], c: Choice, check: CostCheck | undefined): number {
  const key = choiceKey(c)
  return mean(
    photos.map((p) => check?.encodeMs[p.name]?.[key] ?? p.heights.reduce((a, h) => a + findEncoding(h, c.format, c.quality, c.effort)!.cpuMs, 0)),
  )
}

/**
 * The rule:
 *  1. quality: per format and effort, the lowest quality of the grid whose mean SSIM over the JPEG
 *     sources is at least the JPEG q80 thumbnail's mean SSIM at every height;
 *  2. effort and enabling: WebP first, then AVIF; a format is on by default only if, at some effort,
 *     all enabled renditions together add at most EXTRA_CPU_BUDGET × the source-only path's CPU per
 *     image (mean over the JPEG sources; CPU figures from the interleaved cost check where the setting
 *     was checked, else from the study). Within the budget the effort with the fewer mean bytes
 *     (summed over the heights) wins; out of it, the format is off by default and its settings are
 *     those of the cheapest effort that reaches rule 1.
 *  3. PNG sources: the chosen settings must give SSIM ≥ PNG_SSIM_FLOOR at every height (checked and
 *     reported, not used to choose).
 */
function chooseDefaults(jpegPhotos: PhotoResult[], choices: Choice[], check: CostCheck | undefined) {
  const base = baseCpu(jpegPhotos, check)
  const budget = base * EXTRA_CPU_BUDGET
  const chosen: Record<'webp' | 'avif', Choice & { enabled: boolean }> = {} as never
  let spent = 0
  for (const format of ['webp', 'avif'] as const) {
    const options = choices.filter((c) => c.format === format)
    const reaching = options.filter((c) => c.reached)
    const pool = reaching.length ? reaching : options
    const affordable = pool.filter((c) => spent + encodeCpu(jpegPhotos, c, check) <= budget)
    if (affordable.length) {
      const best = affordable.sort((a, b) => a.bytes.reduce((x, y) => x + y) - b.bytes.reduce((x, y) => x + y))[0]!
      chosen[format] = { ...best, enabled: true }
      spent += encodeCpu(jpegPhotos, best, check)
    } else {
      const cheapest = [...pool].sort((a, b) => encodeCpu(jpegPhotos, a, check) - encodeCpu(jpegPhotos, b, check))[0]!
      chosen[format] = { ...cheapest, enabled: false }
    }
  }
  const checked = choices.map((c) => ({ setting: choiceKey(c), studyCpuMs: c.cpuMs, checkedCpuMs: check && check.encodeMs[jpegPhotos[0]!.name]?.[choiceKey(c)] !== undefined ? encodeCpu(jpegPhotos, c, check) : null }))
  return { chosen, sourceOnlyCpuMs: base, sourceOnlyStudyCpuMs: sourceOnlyCpu(jpegPhotos), budgetMs: budget, checked }
}

function pathCosts(photos: PhotoResult[], chosen: Record<'webp' | 'avif', Choice>, check: CostCheck | undefined): PathCost[] {
  const base = baseCpu(photos, check)
  const webp = encodeCpu(photos, chosen.webp, check)
  const avif = encodeCpu(photos, chosen.avif, check)
  const paths = [
    { name: 'source format only (today)', cpuMs: base },
    { name: `source + webp q${chosen.webp.quality} e${chosen.webp.effort}`, cpuMs: base + webp },
    { name: `source + avif q${chosen.avif.quality} e${chosen.avif.effort}`, cpuMs: base + avif },
    { name: `source + webp + avif`, cpuMs: base + webp + avif },
  ]
  return paths.map((p) => ({ ...p, imagesPerCoreSecond: 1000 / p.cpuMs, ofSourceOnly: base / p.cpuMs }))
}

function costTable(title: string, costs: PathCost[]): string {
  const lines = [`${title}`, '', '| path | CPU ms / image | images / core-second | throughput vs source only |', '|---|--:|--:|--:|']
  for (const c of costs) lines.push(`| ${c.name} | ${fmt(c.cpuMs)} | ${fmt(c.imagesPerCoreSecond)} | ${c.ofSourceOnly.toFixed(2)} |`)
  return lines.join('\n')
}

// ---------------------------------------------------------------- main

async function main() {
  const out: string[] = []
  const log = (line: string) => {
    process.stdout.write(`${line}\n`)
  }
  const versions = sharp.versions as Record<string, string>
  const machine = {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    sharp: versions.sharp,
    libvips: versions.vips,
    libwebp: versions.webp,
    libheif: versions.heif,
    aom: versions.aom,
    sharpConcurrency: sharp.concurrency(),
    date: new Date().toString(),
    loadAverageAtStart: loadAverage(),
  }
  log(`format study: sharp ${machine.sharp}, libvips ${machine.libvips}, libwebp ${machine.libwebp}, libheif ${machine.libheif}, aom ${machine.aom}; ${machine.cores} cores (${machine.cpuModel}); repeats ${REPEATS}`)
  await waitForQuiet(log)

  const inputs: Array<{ name: string; origin: string; path: string; data: Buffer }> = []
  for (const w of WALLPAPERS) {
    try {
      inputs.push({ name: w.name, origin: w.pkg, path: w.path, data: readFileSync(w.path) })
    } catch {
      log(`  skipped ${w.name}: ${w.path} missing (apt-get install -y --no-install-recommends ${w.pkg})`)
    }
  }
  const benchJpeg = await loadJpeg()
  const benchPng = await loadPng()
  inputs.push({ name: `bench-${benchJpeg.name}`, origin: `bench (${benchJpeg.source})`, path: benchJpeg.path ?? '', data: benchJpeg.data })
  inputs.push({ name: `bench-${benchPng.name}`, origin: `bench (${benchPng.source})`, path: benchPng.path ?? '', data: benchPng.data })

  // Warm up: the first encode of each codec loads and initialises it.
  const warm: Raw = { data: Buffer.alloc(64 * 64 * 3, 128), width: 64, height: 64, channels: 3 }
  for (const f of ['jpeg', 'png', 'webp', 'avif'] as const) await pipelineFor(warm, f, 50, 2).toBuffer()

  const only = process.env.FORMAT_STUDY_ONLY?.split(',').filter(Boolean)
  if (only) inputs.splice(0, inputs.length, ...inputs.filter((i) => only.includes(i.name)))
  if (!inputs.some((i) => i.data[0] === 0xff)) throw new Error('no JPEG input to study')

  const started = performance.now()
  const machine0 = machineCpu()
  const self0 = cpuMsNow()
  const photos: PhotoResult[] = []
  for (const input of inputs) photos.push(await study(input.name, input.origin, input.path, input.data, log))
  await refine(photos, log)
  const elapsedS = (performance.now() - started) / 1000
  const machineBusyS = machineCpu().busy - machine0.busy
  const selfS = (cpuMsNow() - self0) / 1000

  const jpegPhotos = photos.filter((p) => p.kind === 'jpeg')
  const pngPhotos = photos.filter((p) => p.kind === 'png')
  const jpegRows = aggregate(jpegPhotos)
  const pngRows = pngPhotos.length ? aggregate(pngPhotos) : []
  const choices = qualityChoices(jpegRows)
  // Settings within 5× the budget's reach are checked; AVIF at effort 4 is an order of magnitude out.
  const roughBudget = sourceOnlyCpu(jpegPhotos) * EXTRA_CPU_BUDGET
  const contenders = choices.filter((c) => c.cpuMs <= 5 * roughBudget)
  log(`  cost check: ${contenders.map(choiceKey).join(', ')} against the source-only path, ${COST_REPEATS} interleaved repeats per photo`)
  const check = await checkCosts(photos, new Map(inputs.map((i) => [i.name, i.data])), contenders)
  const decision = chooseDefaults(jpegPhotos, choices, check)
  const { chosen } = decision
  const jpegCosts = pathCosts(jpegPhotos, chosen, check)
  const wallpapers = jpegPhotos.filter((p) => !p.name.startsWith('bench-'))
  const benchJpegs = jpegPhotos.filter((p) => p.name.startsWith('bench-'))
  const wallpaperCosts = wallpapers.length ? pathCosts(wallpapers, chosen, check) : []
  const benchJpegCosts = benchJpegs.length ? pathCosts(benchJpegs, chosen, check) : []
  const pngCosts = pngPhotos.length ? pathCosts(pngPhotos, chosen, check) : []
  const pngCheck = pngRows.length
    ? (['webp', 'avif'] as const).map((f) => {
        const c = chosen[f]
        const row = pngRows.find((r) => r.format === f && r.quality === c.quality && r.effort === c.effort)!
        return { format: f, ssim: row.cells.map((x) => x.ssim), ratio: row.cells.map((x) => x.ratio), bytes: row.cells.map((x) => x.bytes), ok: row.cells.every((x) => x.ssim >= PNG_SSIM_FLOOR) }
      })
    : []

  const decodeMs = (ps: PhotoResult[]) => mean(ps.map((p) => p.decode.cpuMs))
  const resizeMs = (ps: PhotoResult[]) => mean(ps.map((p) => p.heights.reduce((a, h) => a + h.resize.cpuMs, 0)))

  out.push(`## Format study: ${jpegPhotos.length} JPEG sources, ${pngPhotos.length} PNG source(s), heights ${HEIGHTS.join(' and ')}`)
  out.push('')
  out.push(`Per setting, means over the photos (× src: mean of per-photo bytes ratios to the source-format thumbnail; ≥src: photos whose SSIM is at least the source-format thumbnail's; (r): a refinement quality; CPU ms: one encode, median of ${REPEATS} runs, or one run if it took > ${REPEAT_BELOW_MS} ms; sharp.concurrency() = ${sharp.concurrency()}, libvips cache off).`)
  out.push('')
  out.push(`### JPEG sources (${jpegPhotos.map((p) => p.name).join(', ')})`)
  out.push('')
  out.push(table(jpegRows, jpegPhotos.length))
  out.push('')
  out.push(`Decode once at ${HEIGHTS.at(-1)} px (header read + decode + resize): ${fmt(decodeMs(jpegPhotos))} ms CPU per image (wallpapers ${fmt(decodeMs(wallpapers))} ms, 12 MP bench JPEG ${fmt(decodeMs(benchJpegs))} ms); resize to the other heights ${fmt(resizeMs(jpegPhotos))} ms.`)
  if (pngPhotos.length) {
    out.push('')
    out.push(`### PNG sources (${pngPhotos.map((p) => p.name).join(', ')})`)
    out.push('')
    out.push(table(pngRows, pngPhotos.length))
    out.push('')
    out.push(`Decode once: ${fmt(decodeMs(pngPhotos))} ms CPU per image; resize to the other heights ${fmt(resizeMs(pngPhotos))} ms.`)
  }
  out.push('')
  out.push('### Lowest quality reaching the JPEG q80 thumbnail\'s mean SSIM at every height (JPEG sources)')
  out.push('')
  out.push('| format | effort | quality | reached | bytes 200/400 | × src 200/400 | SSIM 200/400 | encode CPU ms / image, both heights: study / cost check |')
  out.push('|---|--:|--:|---|--:|--:|--:|--:|')
  for (const c of choices) {
    const checked = decision.checked.find((x) => x.setting === choiceKey(c))?.checkedCpuMs
    out.push(`| ${c.format} | ${c.effort} | ${c.quality} | ${c.reached ? 'yes' : 'no (best of grid)'} | ${c.bytes.map((b) => fmt(b, 4)).join(' / ')} | ${c.ratio.map((r) => r.toFixed(2)).join(' / ')} | ${c.ssim.map((s) => s.toFixed(4)).join(' / ')} | ${fmt(c.cpuMs)} / ${checked == null ? '–' : fmt(checked)} |`)
  }
  out.push('')
  out.push(`Source-only path (header + decode + resizes + JPEG encodes): ${fmt(decision.sourceOnlyCpuMs)} ms CPU per image in the cost check (${fmt(decision.sourceOnlyStudyCpuMs)} ms summed from the study's parts), mean over JPEG sources; budget for all renditions together: ${EXTRA_CPU_BUDGET} × that = ${fmt(decision.budgetMs)} ms.`)
  out.push('')
  out.push('### Defaults chosen')
  out.push('')
  for (const f of ['webp', 'avif'] as const) {
    const c = chosen[f]
    out.push(`- ${f}: ${c.enabled ? 'on' : 'off'} by default, quality ${c.quality}, effort ${c.effort} (encode ${fmt(encodeCpu(jpegPhotos, c, check))} ms CPU per image, both heights; bytes ${c.ratio.map((r) => r.toFixed(2)).join(' / ')} × the JPEG at 200 / 400 px)`)
  }
  for (const p of pngCheck) {
    out.push(`- PNG-source check, ${p.format}: SSIM ${p.ssim.map((s) => s.toFixed(4)).join(' / ')} at 200 / 400 px (floor ${PNG_SSIM_FLOOR}: ${p.ok ? 'met' : 'NOT met'}), bytes ${p.ratio.map((r) => r.toFixed(3)).join(' / ')} × the PNG`)
  }
  out.push('')
  out.push(costTable('### CPU per image, JPEG sources (all)', jpegCosts))
  if (wallpaperCosts.length) {
    out.push('')
    out.push(costTable('### CPU per image, wallpapers only (2–4 MP JPEGs)', wallpaperCosts))
  }
  if (benchJpegCosts.length) {
    out.push('')
    out.push(costTable('### CPU per image, the 12 MP bench JPEG', benchJpegCosts))
  }
  if (pngCosts.length) {
    out.push('')
    out.push(costTable('### CPU per image, PNG source', pngCosts))
  }
  out.push('')
  out.push(`Run: ${elapsedS.toFixed(0)} s; this process ${selfS.toFixed(0)} s CPU, whole machine ${machineBusyS.toFixed(0)} s busy (other work ≈ ${(machineBusyS - selfS).toFixed(0)} s CPU).`)

  const markdown = out.join('\n')
  log('')
  log(markdown)

  mkdirSync(RESULTS_DIR, { recursive: true })
  const json = {
    machine,
    settings: { heights: HEIGHTS, repeats: REPEATS, jpegQuality: JPEG_QUALITY, pngCompressionLevel: PNG_COMPRESSION_LEVEL, webpQualities: WEBP_QUALITIES, avifQualities: AVIF_QUALITIES, efforts: EFFORTS, pngSsimFloor: PNG_SSIM_FLOOR, extraCpuBudget: EXTRA_CPU_BUDGET, ssim: 'ssim.js weber, window 11, downsample off, luma' },
    run: { elapsedS: round(elapsedS, 1), selfCpuS: round(selfS, 1), machineBusyS: round(machineBusyS, 1) },
    inputs: photos.map((p) => ({ name: p.name, origin: p.origin, file: p.path ? basename(p.path) : '', path: p.path, kind: p.kind, width: p.width, height: p.height, fileBytes: p.fileBytes })),
    aggregate: { jpeg: jpegRows, png: pngRows },
    decision: { choices, ...decision, pngCheck },
    costCheck: check,
    costs: { jpeg: jpegCosts, wallpapers: wallpaperCosts, benchJpeg: benchJpegCosts, png: pngCosts },
    photos,
  }
  writeFileSync(join(RESULTS_DIR, 'format-study.json'), `${JSON.stringify(json, null, 1)}\n`)
  writeFileSync(join(RESULTS_DIR, 'format-study.md'), `${markdown}\n`)
  log(`\nwrote ${join(RESULTS_DIR, 'format-study.json')} and format-study.md`)
}

await main()
