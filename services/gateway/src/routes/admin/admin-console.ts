import type { FastifyPluginAsync } from 'fastify'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'

/** The console's own files: plain HTML, CSS and JS in the repository, no build step, no CDN. */
export const ADMIN_CONSOLE_ROOT = fileURLToPath(new URL('../../../admin-console/', import.meta.url))

/**
 * The admin console at /admin/. Its files are public (a sign-in page is no secret); everything it
 * shows comes from the admin API, which checks the token on every call. Only the files present at
 * start are served (no wildcard), and helmet's CSP holds: the page loads no inline script.
 */
const adminConsole: FastifyPluginAsync = async (app) => {
  await app.register(fastifyStatic, {
    root: ADMIN_CONSOLE_ROOT,
    prefix: '/admin/',
    wildcard: false,
    decorateReply: false,
    index: 'index.html',
    // a new version of the console is picked up at once (the files are small)
    cacheControl: false,
    setHeaders: (reply) => reply.header('cache-control', 'no-cache'),
  })
}

export default adminConsole
