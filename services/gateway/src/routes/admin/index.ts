import type { FastifyPluginAsync } from 'fastify'
import type { TierRules } from '@imageapi/accounts'
import listTiers from './tiers/list-tiers.js'
import createTier from './tiers/create-tier.js'
import getTier from './tiers/get-tier.js'
import updateTier from './tiers/update-tier.js'
import deleteTier from './tiers/delete-tier.js'
import listUsers from './users/list-users.js'
import createUser from './users/create-user.js'
import getUser from './users/get-user.js'
import updateUser from './users/update-user.js'
import deactivateUser from './users/deactivate-user.js'
import signOutUser from './users/sign-out-user.js'
import listBackfills from './backfills/list-backfills.js'
import getBackfill from './backfills/get-backfill.js'
import createBackfill from './backfills/create-backfill.js'
import listFormats from './formats/list-formats.js'
import updateFormat from './formats/update-format.js'
import getQueue from './queue/get-queue.js'
import retryFailedJobs from './queue/retry-failed-jobs.js'
import pauseQueue from './queue/pause-queue.js'
import resumeQueue from './queue/resume-queue.js'
import createAdminSession from './session/create-admin-session.js'
import deleteAdminSession from './session/delete-admin-session.js'
import getWebhookHealth from './webhooks/get-webhook-health.js'
import listUserWebhooks from './webhooks/list-user-webhooks.js'
import queueDashboard from './queue-dashboard.js'
import adminConsole from './admin-console.js'

/**
 * Everything for admins: the API under /api/admin/ (a token of an admin, checked before the body
 * is even read, so others learn nothing about it), the queue dashboard and the console.
 */
const admin: FastifyPluginAsync<{ tierRules: TierRules }> = async (app, options) => {
  await app.register(async (api) => {
    api.addHook('onRequest', app.authenticate)
    api.addHook('onRequest', app.requireAdmin)
    await api.register(listTiers)
    await api.register(createTier, { tierRules: options.tierRules })
    await api.register(getTier)
    await api.register(updateTier, { tierRules: options.tierRules })
    await api.register(deleteTier)
    await api.register(listUsers)
    await api.register(createUser)
    await api.register(getUser)
    await api.register(updateUser)
    await api.register(deactivateUser)
    await api.register(signOutUser)
    await api.register(listBackfills)
    await api.register(getBackfill)
    await api.register(createBackfill)
    await api.register(listFormats)
    await api.register(updateFormat)
    await api.register(getQueue)
    await api.register(retryFailedJobs)
    await api.register(pauseQueue)
    await api.register(resumeQueue)
    await api.register(createAdminSession)
    await api.register(deleteAdminSession)
    await api.register(getWebhookHealth)
    await api.register(listUserWebhooks)
  })
  await app.register(queueDashboard)
  await app.register(adminConsole)
}

export default admin
