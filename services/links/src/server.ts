import { serveUntilSignalled } from '@imageapi/http-service'
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

await serveUntilSignalled(app, { host: config.HOST, port: config.PORT })
