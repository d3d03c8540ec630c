// The CRC-32 of zlib and PNG (polynomial 0xEDB88320, reflected). node:zlib only has
// `crc32` from Node 22 on, and a PNG header needs just 17 bytes of it.
const table = new Uint32Array(256)
for (let n = 0; n < 256; n++) {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  table[n] = c >>> 0
}

/** CRC-32 of `data`; pass a previous result as `crc` to continue over several pieces. */
export function crc32(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}
