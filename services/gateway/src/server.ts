import closeWithGrace from 'close-with-grace'
import { exitOnConfigError } from '@imageapi/config'
import { buildApp } from './app.js'
import { loadGatewayConfig, type GatewayConfig } from './config.js'

let config: GatewayConfig
try {
  config = loadGatewayConfig()
} catch (error) {
  exitOnConfigError(error)
}

const app = await buildApp({ config })

// On SIGTERM/SIGINT: stop accepting, let in-flight requests finish, close pools, exit 0.
closeWithGrace({ delay: 10_000 }, async ({ err, signal }) => {
  if (err) app.log.error({ err }, 'shutting down after an error')
  else app.log.info({ signal }, 'shutting down')
  await app.close()
})

await app.listen({ host: config.HOST, port: config.PORT })
