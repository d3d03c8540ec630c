import t from 'tap'
import { bytesToUuid, isUuid, uuidToBytes } from '../src/index.js'

const uuid = '00112233-4455-6677-8899-aabbccddeeff'

t.test('uuid string <-> 16 bytes', async (t) => {
  const bytes = uuidToBytes(uuid)
  t.same([...bytes], [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff])
  t.equal(bytesToUuid(bytes), uuid)
  t.equal(bytesToUuid(uuidToBytes(uuid.toUpperCase())), uuid, 'output is lowercase')
})

t.test('bytesToUuid reads a view at its offset', async (t) => {
  const framed = Buffer.concat([Buffer.from([9, 9]), uuidToBytes(uuid), Buffer.from([9])])
  t.equal(bytesToUuid(framed.subarray(2, 18)), uuid)
  t.equal(bytesToUuid(new Uint8Array(framed.buffer, framed.byteOffset + 2, 16)), uuid)
})

t.test('rejects what is not a UUID', async (t) => {
  for (const bad of ['', uuid.replaceAll('-', ''), `{${uuid}}`, `${uuid} `, uuid.replace('0', 'g'), `${uuid}0`]) {
    t.equal(isUuid(bad), false, bad)
    t.throws(() => uuidToBytes(bad), /not a UUID/)
  }
  t.equal(isUuid(42), false)
  t.throws(() => uuidToBytes(42 as unknown as string), /not a UUID: 42/)
  t.throws(() => bytesToUuid(new Uint8Array(15)), /a UUID is 16 bytes, got 15/)
})
