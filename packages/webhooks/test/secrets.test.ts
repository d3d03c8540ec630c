import t from 'tap'
import { generateWebhookSecret, isWebhookSecret } from '../src/index.js'

t.test('a generated secret is whsec_ followed by the standard base64 of 32 bytes', async (t) => {
  const secret = generateWebhookSecret()
  t.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/)
  t.equal(Buffer.from(secret.slice('whsec_'.length), 'base64').length, 32)
  t.equal(isWebhookSecret(secret), true)
})

t.test('two generated secrets differ', async (t) => {
  t.not(generateWebhookSecret(), generateWebhookSecret())
})

t.test('isWebhookSecret refuses values without the prefix, with bad base64, or of the wrong length', async (t) => {
  const bytes32 = Buffer.alloc(32, 7).toString('base64')
  t.equal(isWebhookSecret(`whsec_${bytes32}`), true)
  t.equal(isWebhookSecret(bytes32), false, 'no prefix')
  t.equal(isWebhookSecret(`whsec_${bytes32.slice(0, -1)}`), false, 'padding cut off')
  t.equal(isWebhookSecret(`whsec_${bytes32.replace(/.$/, '-')}`), false, 'base64url character')
  t.equal(isWebhookSecret(`whsec_${Buffer.alloc(16).toString('base64')}`), false, '16 bytes is under the 24-byte minimum')
  t.equal(isWebhookSecret(`whsec_${Buffer.alloc(65).toString('base64')}`), false, '65 bytes is over the 64-byte maximum')
  t.equal(isWebhookSecret('whsec_'), false, 'empty')
  t.equal(isWebhookSecret(undefined), false, 'not a string')
})
