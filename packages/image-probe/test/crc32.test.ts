import t from 'tap'
import { crc32 } from '../src/index.js'

const ascii = (text: string) => Buffer.from(text, 'latin1')

t.test('matches the standard check values', async (t) => {
  t.equal(crc32(new Uint8Array(0)), 0)
  t.equal(crc32(ascii('123456789')), 0xcbf43926)
  t.equal(crc32(ascii('The quick brown fox jumps over the lazy dog')), 0x414fa339)
  // Every PNG ends with this CRC over "IEND".
  t.equal(crc32(ascii('IEND')), 0xae426082)
})

t.test('continues across pieces', async (t) => {
  const whole = ascii('The quick brown fox jumps over the lazy dog')
  t.equal(crc32(whole.subarray(10), crc32(whole.subarray(0, 10))), crc32(whole))
})
