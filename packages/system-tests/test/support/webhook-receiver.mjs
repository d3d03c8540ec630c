// A webhook receiver for the delivery tests, run as its own process on loopback. It verifies each
// request with the standardwebhooks package (as a customer's receiver would) against
// WEBHOOK_SECRET and prints one JSON line per request on stdout:
//   {"event":"received","id":…,"timestamp":…,"signature":…,"type":…,"data":…,"verified":true|false,"error"?:…}
// then answers RESPOND_STATUS (default 204) after DELAY_MS (default 0); a request that fails
// verification is answered 400. The first line is {"event":"listening","port":…}.
// Environment: PORT (0 for any free one), WEBHOOK_SECRET, RESPOND_STATUS, DELAY_MS.
import { createServer } from 'node:http'
import { Webhook } from 'standardwebhooks'

const webhook = new Webhook(process.env.WEBHOOK_SECRET ?? '')
const status = Number(process.env.RESPOND_STATUS ?? 204)
const delayMs = Number(process.env.DELAY_MS ?? 0)

const print = (line) => process.stdout.write(JSON.stringify(line) + '\n')

const server = createServer((request, response) => {
  const chunks = []
  request.on('data', (chunk) => chunks.push(chunk))
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8')
    const headers = {
      'webhook-id': request.headers['webhook-id'],
      'webhook-timestamp': request.headers['webhook-timestamp'],
      'webhook-signature': request.headers['webhook-signature'],
    }
    let verified = false
    let type
    let data
    let error
    try {
      ;({ type, data } = webhook.verify(body, headers) ?? {})
      verified = true
    } catch (caught) {
      error = String(caught?.message ?? caught)
    }
    print({
      event: 'received',
      method: request.method,
      path: request.url,
      contentType: request.headers['content-type'],
      id: headers['webhook-id'],
      timestamp: headers['webhook-timestamp'],
      signature: headers['webhook-signature'],
      type,
      data,
      verified,
      ...(error ? { error } : {}),
    })
    setTimeout(() => {
      response.statusCode = verified ? status : 400
      response.end(verified ? 'ok' : 'bad signature')
    }, delayMs)
  })
})

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => print({ event: 'listening', port: server.address().port }))
process.on('SIGTERM', () => {
  server.closeAllConnections()
  server.close(() => process.exit(0))
})
