// Builders for the test images: real encoder output from sharp, plus byte-level surgery for
// the cases no encoder writes (bad checksums, huge dimensions, odd marker layouts).
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import sharp, { type Sharp } from 'sharp'
import { crc32, ImageProbe, type ProbeLimits, type ProbeResult } from '../src/index.js'

export const generous: ProbeLimits = { maxBytes: 64 * 1024 * 1024, maxPixels: 100_000_000 }

/** Noise, so files have realistic, incompressible sizes rather than a few hundred bytes. */
function noise(width: number, height: number, channels: 3 | 4 = 3): Sharp {
  const background = { r: 0, g: 0, b: 0, alpha: 1 } // required by the types, replaced by the noise
  return sharp({ create: { width, height, channels, background, noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
}

export function makePng(
  width: number,
  height: number,
  options: { alpha?: boolean; greyscale?: boolean; palette?: boolean; interlaced?: boolean } = {},
): Promise<Buffer> {
  const image = noise(width, height, options.alpha ? 4 : 3)
  if (options.greyscale) image.toColourspace('b-w')
  return image.png({ palette: options.palette ?? false, progressive: options.interlaced ?? false }).toBuffer()
}

export function makeJpeg(
  width: number,
  height: number,
  options: { progressive?: boolean; orientation?: number; greyscale?: boolean } = {},
): Promise<Buffer> {
  const image = noise(width, height)
  if (options.greyscale) image.toColourspace('b-w')
  image.jpeg({ progressive: options.progressive ?? false })
  if (options.orientation !== undefined) image.withMetadata({ orientation: options.orientation })
  return image.toBuffer()
}

/** Deterministic PRNG (mulberry32), so a failing split can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Cuts `bytes` into pieces of 1 to `maxChunk` bytes. */
export function randomChunks(bytes: Buffer, seed: number, maxChunk = 97): Buffer[] {
  const random = seededRandom(seed)
  const chunks: Buffer[] = []
  for (let offset = 0; offset < bytes.length; ) {
    const size = 1 + Math.floor(random() * maxChunk)
    chunks.push(bytes.subarray(offset, offset + size))
    offset += size
  }
  return chunks
}

export function oneByteChunks(bytes: Buffer): Buffer[] {
  return Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1))
}

/** Streams `chunks` through an ImageProbe into a sink; returns what came out and the probe's result. */
export async function probeChunks(chunks: Iterable<Buffer>, limits: ProbeLimits = generous): Promise<{ result: ProbeResult; output: Buffer; probe: ImageProbe }> {
  const probe = new ImageProbe(limits)
  const received: Buffer[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      received.push(chunk)
      callback()
    },
  })
  await pipeline(Readable.from(chunks), probe, sink)
  return { result: probe.result!, output: Buffer.concat(received), probe }
}

// ---- PNG surgery ----

/** Rewrites IHDR fields and, unless told otherwise, recomputes its CRC so only the change is wrong. */
export function patchIhdr(
  png: Buffer,
  patch: { width?: number; height?: number; bitDepth?: number; colorType?: number; type?: string },
  options: { fixCrc?: boolean } = {},
): Buffer {
  const copy = Buffer.from(png)
  if (patch.type !== undefined) copy.write(patch.type, 12, 'latin1')
  if (patch.width !== undefined) copy.writeUInt32BE(patch.width, 16)
  if (patch.height !== undefined) copy.writeUInt32BE(patch.height, 20)
  if (patch.bitDepth !== undefined) copy[24] = patch.bitDepth
  if (patch.colorType !== undefined) copy[25] = patch.colorType
  if (options.fixCrc ?? true) copy.writeUInt32BE(crc32(copy.subarray(12, 29)), 29)
  return copy
}

// ---- JPEG surgery ----

/** A marker segment: FF, code, big-endian length (counting itself), payload. */
export function segment(code: number, payload: Uint8Array): Buffer {
  const header = Buffer.from([0xff, code, 0, 0])
  header.writeUInt16BE(payload.length + 2, 2)
  return Buffer.concat([header, payload])
}

/** Puts extra bytes right after SOI, i.e. before everything the encoder wrote. */
export function insertAfterSoi(jpeg: Buffer, ...extra: Buffer[]): Buffer {
  return Buffer.concat([jpeg.subarray(0, 2), ...extra, jpeg.subarray(2)])
}

/** An APP1 EXIF segment whose IFD0 holds a filler tag and then the orientation, in either byte order. */
export function exifSegment(orientation: number, byteOrder: 'II' | 'MM', orientationType = 3): Buffer {
  const littleEndian = byteOrder === 'II'
  const tiff = Buffer.alloc(8 + 2 + 2 * 12 + 4)
  tiff.write(byteOrder, 0, 'latin1')
  const u16 = (value: number, offset: number) => (littleEndian ? tiff.writeUInt16LE(value, offset) : tiff.writeUInt16BE(value, offset))
  const u32 = (value: number, offset: number) => (littleEndian ? tiff.writeUInt32LE(value, offset) : tiff.writeUInt32BE(value, offset))
  u16(42, 2)
  u32(8, 4)
  u16(2, 8)
  // ImageWidth (0x0100), SHORT, 1 value: an entry the reader must step over.
  u16(0x0100, 10)
  u16(3, 12)
  u32(1, 14)
  u16(640, 18)
  u16(0x0112, 22)
  u16(orientationType, 24)
  u32(1, 26)
  if (orientationType === 4) u32(orientation, 30)
  else u16(orientation, 30)
  return segment(0xe1, Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]))
}

/** Offset of the first SOFn marker, found by walking segments the way a decoder does. */
export function findStartOfFrame(jpeg: Buffer): number {
  let offset = 2
  for (;;) {
    const code = jpeg[offset + 1]!
    if (code >= 0xc0 && code <= 0xcf && code !== 0xc4 && code !== 0xc8 && code !== 0xcc) return offset
    offset += 2 + jpeg.readUInt16BE(offset + 2)
  }
}

export function patchFrameDimensions(jpeg: Buffer, width: number, height: number): Buffer {
  const copy = Buffer.from(jpeg)
  const sof = findStartOfFrame(copy)
  copy.writeUInt16BE(height, sof + 5)
  copy.writeUInt16BE(width, sof + 7)
  return copy
}
