import type { FastifyPluginAsync } from 'fastify'
import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { FastifyAdapter } from '@bull-board/fastify'
import { ADMIN_COOKIE_PATH } from '../../plugins/app/require-admin.js'

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
    await dashboard.register(serverAdapter.registerPlugin(), { prefix: ADMIN_COOKIE_PATH })
  })
}

export default queueDashboard
