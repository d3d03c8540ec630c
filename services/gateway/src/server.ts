import { serveUntilSignalled } from '@imageapi/http-service'
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
await serveUntilSignalled(app, { host: config.HOST, port: config.PORT })
