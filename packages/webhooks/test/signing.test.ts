import t from 'tap'
import { Webhook } from 'standardwebhooks'
import { generateWebhookSecret, signWebhook, webhookMessageId } from '../src/index.js'

const secret = generateWebhookSecret()
const payload = JSON.stringify({ type: 'image.ready', timestamp: '2026-01-01T00:00:00.000Z', data: { imageId: 'img_1' } })
// The verifier refuses timestamps more than 5 minutes from its clock, so sign "now".
const now = new Date()
const headers = signWebhook({ secret, id: 'msg_abc', timestamp: now, payload })

function verifies(body: string, withHeaders: Record<string, string>, key = secret): boolean {
  try {
    new Webhook(key).verify(body, withHeaders)
    return true
  } catch {
    return false
  }
}

t.test('signWebhook produces the three Standard Webhooks headers', async (t) => {
  t.same(Object.keys(headers).sort(), ['webhook-id', 'webhook-signature', 'webhook-timestamp'])
  t.equal(headers['webhook-id'], 'msg_abc')
  t.equal(headers['webhook-timestamp'], String(Math.floor(now.getTime() / 1000)))
  t.match(headers['webhook-signature'], /^v1,[A-Za-z0-9+/]{43}=$/)
})

t.test('the standardwebhooks verifier accepts the signature and returns the payload', async (t) => {
  t.same(new Webhook(secret).verify(payload, { ...headers }), JSON.parse(payload))
})

t.test('a changed payload fails verification', async (t) => {
  t.equal(verifies(payload.replace('img_1', 'img_2'), { ...headers }), false)
  t.equal(verifies(`${payload} `, { ...headers }), false)
})

t.test('a changed webhook-id fails verification', async (t) => {
  t.equal(verifies(payload, { ...headers, 'webhook-id': 'msg_abd' }), false)
})

t.test('a changed webhook-timestamp fails verification', async (t) => {
  t.equal(verifies(payload, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) }), false)
})

t.test('another endpoint secret fails verification', async (t) => {
  t.equal(verifies(payload, { ...headers }, generateWebhookSecret()), false)
})

t.test('signWebhook refuses a malformed secret without echoing it', async (t) => {
  const thrown = (() => {
    try {
      signWebhook({ secret: 'whsec_SECRETVALUE', id: 'msg_1', timestamp: now, payload })
    } catch (error) {
      return error as Error
    }
  })()
  t.type(thrown, TypeError)
  t.match(thrown?.message, /not a whsec_ secret/)
  t.notMatch(thrown?.message, /SECRETVALUE/)
})

t.test('signWebhook refuses ids with a dot or empty, and invalid dates', async (t) => {
  t.throws(() => signWebhook({ secret, id: 'msg.1', timestamp: now, payload }), TypeError)
  t.throws(() => signWebhook({ secret, id: '', timestamp: now, payload }), TypeError)
  t.throws(() => signWebhook({ secret, id: 'msg_1', timestamp: new Date(Number.NaN), payload }), TypeError)
})

t.test('webhookMessageId is msg_ and 22 URL-safe characters, different each call', async (t) => {
  const id = webhookMessageId()
  t.match(id, /^msg_[A-Za-z0-9_-]{22}$/)
  t.not(webhookMessageId(), id)
  t.equal(verifies(payload, { ...signWebhook({ secret, id, timestamp: now, payload }) }), true)
})
