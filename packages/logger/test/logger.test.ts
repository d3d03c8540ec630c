import t from 'tap'
import { Writable } from 'node:stream'
import { createLogger, redactUrl } from '../src/index.js'

function capture() {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk))
      done()
    },
  })
  return { lines, stream }
}

t.test('tokens in link paths and query strings are redacted', async (t) => {
  t.equal(redactUrl('/v/k1.abc.def'), '/v/[redacted]')
  t.equal(redactUrl('/api/view/k1.abc.def/'), '/api/view/[redacted]/')
  t.equal(redactUrl('/x?X-Amz-Signature=abc&y=1'), '/x?X-Amz-Signature=[redacted]&y=1')
  t.equal(redactUrl('/api/images?limit=5'), '/api/images?limit=5')
})

t.test('secrets never reach the output', async (t) => {
  const { lines, stream } = capture()
  const logger = createLogger({ name: 'test', destination: stream })
  logger.info({ password: 'hunter2', body: { password: 'hunter3', refresh: 'rrr' } }, 'login')
  logger.info({ req: { method: 'GET', url: '/v/secret-token', headers: { authorization: 'Bearer abc' } } }, 'request')
  logger.info({ source: '/v/another-secret', url: 'http://host/api/view/third-secret/', location: 'http://s3/x?X-Amz-Signature=sig-secret' }, 'proxy')
  const out = lines.join('')
  for (const secret of ['hunter2', 'hunter3', 'rrr', 'secret-token', 'Bearer abc', 'another-secret', 'third-secret', 'sig-secret']) t.notMatch(out, secret)
  t.match(out, '/v/[redacted]', 'the request line stays, without its token')
  t.match(out, /"name":"test"/)
})
