import fp from 'fastify-plugin'
import jwt from '@fastify/jwt'

export default fp<{ secret: string }>(
  async (app, options) => {
    // One algorithm only: a token claiming `none` or another algorithm is refused before any lookup.
    await app.register(jwt, {
      secret: options.secret,
      sign: { algorithm: 'HS256' },
      verify: { algorithms: ['HS256'] },
    })
  },
  { name: 'jwt' },
)
