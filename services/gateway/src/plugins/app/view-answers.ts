import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import { ViewAnswerCache } from '../../services/view-answer-cache.js'

declare module 'fastify' {
  interface FastifyInstance {
    viewAnswers: ViewAnswerCache
    viewAnswerMetrics: Record<'hit' | 'miss' | 'stored', { inc(): void }>
  }
}

/** The gateway's memory of hot view-link answers (see ViewAnswerCache), shared by the native and compat link paths. */
export default fp<{ maxBytes: number; maxObjectBytes: number }>(
  async (app, options) => {
    app.decorate('viewAnswers', new ViewAnswerCache({ ...options, now: () => app.clock() }))
    const lookups = new Counter({
      name: 'imageapi_gateway_view_answers_total',
      help: 'View-link requests answered from the gateway memory (hit), forwarded (miss), and answers kept (stored)',
      labelNames: ['result'] as const,
      registers: [app.metrics],
    })
    app.decorate('viewAnswerMetrics', { hit: lookups.labels('hit'), miss: lookups.labels('miss'), stored: lookups.labels('stored') })
  },
  { name: 'view-answers', dependencies: ['operations'] },
)
