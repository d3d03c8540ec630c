import closeWithGrace from 'close-with-grace'
import { exitOnConfigError } from '@imageapi/config'
import { buildApp } from './app.js'
import { loadLinksConfig, type LinksConfig } from './config.js'

let config: LinksConfig
try {
  config = loadLinksConfig()
} catch (error) {
  exitOnConfigError(error)
}

const app = await buildApp({ config })

closeWithGrace({ delay: 10_000 }, async ({ err, signal }) => {
  if (err) app.log.error({ err }, 'shutting down after an error')
  else app.log.info({ signal }, 'shutting down')
  await app.close()
})

await app.listen({ host: config.HOST, port: config.PORT })
