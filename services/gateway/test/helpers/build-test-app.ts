import type { FastifyInstance } from 'fastify'
import { createTestEnvironment, type Teardown, type TestEnvironment } from '@imageapi/testkit'
import { buildApp } from '../../src/app.js'
import { loadGatewayConfig, type GatewayConfig } from '../../src/config.js'

export interface TestGateway {
  app: FastifyInstance
  env: TestEnvironment
  config: GatewayConfig
}

/**
 * The gateway, in process, on this test file's own Postgres database, Redis prefix and S3 bucket
 * (or on `options.env`, when the test shares one with service processes it started).
 */
export async function buildTestGateway(
  t: Teardown,
  overrides: Record<string, string> = {},
  options: { clock?: () => number; env?: TestEnvironment } = {},
): Promise<TestGateway> {
  const env = options.env ?? (await createTestEnvironment(t))
  const config = loadGatewayConfig({ ...env.env, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', NODE_ENV: 'test', ...overrides })
  const app = await buildApp({ config, storage: env.storage, ...(options.clock ? { clock: options.clock } : {}) })
  t.teardown(() => app.close())
  await app.ready()
  return { app, env, config }
}

export async function login(app: FastifyInstance, email: string, password: string): Promise<{ access: string; refresh: string }> {
  const response = await app.inject({ method: 'POST', url: '/api/token/', payload: { email, password } })
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`)
  return response.json()
}
