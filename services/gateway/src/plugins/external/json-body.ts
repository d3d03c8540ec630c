import fp from 'fastify-plugin'
import { JsonBodyError } from '../app/errors.js'

/**
 * Reads a JSON body, refusing what fastify's own parser refuses (an empty body, a syntax error, the
 * prototype-poisoning keys `__proto__` and `constructor.prototype`), but saying which: fastify's
 * parser answers "not valid JSON" for all of them and drops the parser's own message.
 */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) throw new JsonBodyError('empty', 'the body is empty')
  let forbidden: string | undefined
  let value: unknown
  try {
    value = JSON.parse(text, (key, member: unknown) => {
      if (key === '__proto__') forbidden ??= '__proto__'
      else if (key === 'constructor' && member !== null && typeof member === 'object' && Object.hasOwn(member, 'prototype')) forbidden ??= 'constructor.prototype'
      return member
    })
  } catch (error) {
    throw new JsonBodyError('syntax', (error as Error).message)
  }
  if (forbidden) throw new JsonBodyError('forbidden_key', `the body must not contain the key ${forbidden}`)
  return value
}

/**
 * JSON bodies (and urlencoded ones, see form-body) are all the API reads outside its upload
 * routes; a text/plain body is refused with 415 like any other type, rather than reaching a route
 * as a string that fails its schema with "body must be object".
 */
export default fp(
  async (app) => {
    app.removeContentTypeParser(['application/json', 'text/plain'])
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, parseJsonBody(body as string))
      } catch (error) {
        done(error as Error, undefined)
      }
    })
  },
  { name: 'json-body' },
)
