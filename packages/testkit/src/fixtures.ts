import sharp from 'sharp'

export interface FixtureOptions {
  /** EXIF orientation to write into a JPEG (1-8). */
  orientation?: number
  alpha?: boolean
  quality?: number
}

/**
 * A photo-like image: smooth gradients with a little noise, so encoders behave as on real photos
 * (flat colour compresses unrealistically well). Deterministic for a given size.
 */
export function photoPixels(width: number, height: number, channels: 3 | 4 = 3): Buffer {
  const data = Buffer.alloc(width * height * channels)
  let seed = (width * 73856093) ^ (height * 19349663)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      const noise = (seed >> 16) % 24
      const i = (y * width + x) * channels
      data[i] = Math.min(255, Math.round((x / width) * 200) + noise)
      data[i + 1] = Math.min(255, Math.round((y / height) * 200) + noise)
      data[i + 2] = Math.min(255, Math.round(((x + y) / (width + height)) * 255))
      if (channels === 4) data[i + 3] = 128 + ((x * 7 + y * 3) % 128)
    }
  }
  return data
}

export async function jpegImage(width: number, height: number, options: FixtureOptions = {}): Promise<Buffer> {
  let image = sharp(photoPixels(width, height), { raw: { width, height, channels: 3 } }).jpeg({ quality: options.quality ?? 85 })
  if (options.orientation) image = image.withMetadata({ orientation: options.orientation })
  return image.toBuffer()
}

export async function pngImage(width: number, height: number, options: FixtureOptions = {}): Promise<Buffer> {
  const channels = options.alpha ? 4 : 3
  return sharp(photoPixels(width, height, channels), { raw: { width, height, channels } }).png({ compressionLevel: 3 }).toBuffer()
}

/** A valid PNG header that claims the given size, with a correct CRC, and no real pixel data behind it. */
export function pngClaimingSize(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // RGB
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(data.length)
    const typeAndData = Buffer.concat([Buffer.from(type, 'ascii'), data])
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(typeAndData))
    return Buffer.concat([length, typeAndData, crc])
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff
  for (const byte of bytes) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}
