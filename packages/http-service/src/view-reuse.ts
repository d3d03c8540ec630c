/**
 * Sent by the links service with a full 200 answer to a view link: for how many more milliseconds
 * that answer stays exactly what the service would answer (its rights check is reused that long,
 * and an expiring link is still live for at least that long). The gateway may answer the same URL
 * from memory until then, so the documented revocation bound (LINK_CHECK_CACHE_MS) does not grow.
 * Internal to the two services: the gateway never passes it on.
 */
export const VIEW_REUSABLE_MS_HEADER = 'x-imageapi-reusable-ms'
