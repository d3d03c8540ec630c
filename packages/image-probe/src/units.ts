const KiB = 1024
const MiB = 1024 * KiB

/** At most two decimals, no trailing zeros: 25 → "25", 1.5 → "1.5". */
function short(value: number): string {
  return String(Number(value.toFixed(2)))
}

/** Byte counts as people write limits: "25 MiB", "256 KiB", "700 bytes". */
export function formatBytes(bytes: number): string {
  if (bytes >= MiB) return `${short(bytes / MiB)} MiB`
  if (bytes >= KiB) return `${short(bytes / KiB)} KiB`
  return `${bytes} bytes`
}

/** Pixel counts in megapixels once they reach one, else as a plain count: "900 MP", "12,000 pixels". */
export function formatPixels(pixels: number): string {
  if (pixels >= 1_000_000) return `${short(pixels / 1_000_000)} MP`
  return `${pixels.toLocaleString('en-US')} pixels`
}
