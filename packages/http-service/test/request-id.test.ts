import t from 'tap'
import type { IncomingMessage } from 'node:http'
import { requestIdFromHeader } from '../src/index.js'

const withHeader = (value?: string) => ({ headers: value === undefined ? {} : { 'x-request-id': value } }) as unknown as IncomingMessage

t.test('a sane caller id is kept; a missing or hostile one is replaced', async (t) => {
  t.equal(requestIdFromHeader(withHeader('abc-123:x.y_z')), 'abc-123:x.y_z')
  t.match(requestIdFromHeader(withHeader()), /^[0-9a-f-]{36}$/)
  t.match(requestIdFromHeader(withHeader('bad id\n{"level":60}')), /^[0-9a-f-]{36}$/, 'no log injection')
  t.match(requestIdFromHeader(withHeader('x'.repeat(129))), /^[0-9a-f-]{36}$/)
})
