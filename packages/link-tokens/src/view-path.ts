/** Path prefix of view links: the links service serves `/v/<token>`, the gateway forwards it there, and every link in answers and webhooks is built on it. */
export const VIEW_PATH = '/v/'
