import type { FastifyPluginAsync } from 'fastify'
import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { FastifyAdapter } from '@bull-board/fastify'
import { ADMIN_COOKIE_PATH } from '../../plugins/app/require-admin.js'

/**
 * The dashboard's policy: everything from the gateway itself, nothing from another host. Inline
 * styles stay allowed (bull-board's page and components set style attributes); scripts do not.
 */
export const QUEUE_DASHBOARD_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self' 'unsafe-inline'",
].join('; ')

/** A stylesheet or script tag that loads from another host (bull-board's page asks Google Fonts for its fonts). */
const EXTERNAL_TAG = /<(?:link|script)\b[^>]*\s(?:href|src)=["']?(?:https?:)?\/\/[^>]*>(?:\s*<\/script>)?\s*/gi

/** The page without what it would load from elsewhere: the fonts fall back to the system's sans-serif and monospace. */
export function withoutExternalLoads(html: string): string {
  return html.replace(EXTERNAL_TAG, '')
}

/**
 * bull-board at /admin/queues, for admins only: a browser sends no bearer token, so the page and
 * its API check the cookie the admin console sets. Read-only on purpose: retrying a job there
 * would do nothing (a failed thumbnail's row says failed, and the worker renders pending rows),
 * so retries, pause and resume go through the admin API, which keeps the rows and jobs in step.
 */
const queueDashboard: FastifyPluginAsync = async (app) => {
  const serverAdapter = new FastifyAdapter()
  serverAdapter.setBasePath(ADMIN_COOKIE_PATH)
  createBullBoard({
    queues: [new BullMQAdapter(app.thumbnailQueue, { readOnlyMode: true, description: 'One job per image: its owed thumbnails, read from Postgres' })],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'imageapi queues', miscLinks: [{ text: 'Admin console', url: '/admin/' }] } },
  })
  // encapsulated: the cookie check guards the dashboard's routes and nothing else
  await app.register(async (dashboard) => {
    dashboard.addHook('onRequest', app.authenticateAdminCookie)
    // replaces helmet's CSP (which lets fonts and styles come from any https: host) on the dashboard's answers
    dashboard.addHook('onSend', async (_request, reply, payload) => {
      reply.header('content-security-policy', QUEUE_DASHBOARD_CSP)
      if (typeof payload === 'string' && String(reply.getHeader('content-type') ?? '').startsWith('text/html')) return withoutExternalLoads(payload)
      return payload
    })
    await dashboard.register(serverAdapter.registerPlugin(), { prefix: ADMIN_COOKIE_PATH })
  })
}

export default queueDashboard
