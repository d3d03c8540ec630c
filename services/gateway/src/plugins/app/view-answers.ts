import fp from 'fastify-plugin'
import { BoundCounter } from '@imageapi/http-service'
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
    const lookups = new BoundCounter<'result'>(
      'imageapi_gateway_view_answers_total',
      'View-link requests answered from the gateway memory (hit), forwarded (miss), and answers kept (stored)',
      [app.metrics],
    )
    app.decorate('viewAnswerMetrics', { hit: lookups.bind({ result: 'hit' }), miss: lookups.bind({ result: 'miss' }), stored: lookups.bind({ result: 'stored' }) })
  },
  { name: 'view-answers', dependencies: ['operations'] },
)
