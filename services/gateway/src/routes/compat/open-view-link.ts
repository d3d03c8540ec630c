import type { FastifyPluginAsync } from 'fastify'
import { forwardingToLinks } from '../links/forward-view-links.js'
import { COMPAT_VIEW_PATH } from '../../services/compat-uploads.js'
import { COMPAT_DOCS, LEGACY_NOTE } from './schemas.js'

/**
 * The links in /api/list/ (`/api/view/{token}/`), served by the links service like `/v/` links, but
 * with that API's status for an expired link: 403 {"error": ["Sorry, the link is expired"]}, not 410.
 */
const openCompatViewLink: FastifyPluginAsync<{ linksUrl: string }> = async (app, options) => {
  const handler = await forwardingToLinks(app, options.linksUrl)
  app.get(
    `${COMPAT_VIEW_PATH}*`,
    {
      schema: {
        ...COMPAT_DOCS,
        summary: 'Open a link from /api/list/ (no authentication needed)',
        description: `${LEGACY_NOTE} (Native links: \`/v/{token}\`.)\n\nThe file, inline. An expired link answers 403 {"error": ["Sorry, the link is expired"]}; an unknown or tampered one 404 {"detail": "Not found."}.`,
      },
    },
    handler,
  )
}

export default openCompatViewLink
