import type { FastifyPluginAsync } from 'fastify'

/** Where that API served its schema (its /docs/ page read it from here); ours is the same document as /docs/json. */
const compatApiSchema: FastifyPluginAsync = async (app) => {
  app.get('/api/api_schema/', { schema: { hide: true } }, async () => app.swagger())
}

export default compatApiSchema
