import { loadConfig, requireInProduction, serviceEnvSchema, Type, type Static } from '@imageapi/config'
import { databaseEnvSchema } from '@imageapi/db'
import { linkSigningEnvSchema } from '@imageapi/link-tokens'
import { storageEnvSchema } from '@imageapi/storage'

export const linksEnvSchema = Type.Object({
  ...serviceEnvSchema,
  HOST: Type.String({ default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8001 }),
  ...databaseEnvSchema,
  ...storageEnvSchema,
  ...linkSigningEnvSchema,
})

export type LinksConfig = Static<typeof linksEnvSchema>

export function loadLinksConfig(env: Record<string, string | undefined> = process.env): LinksConfig {
  const config = loadConfig(linksEnvSchema, env)
  requireInProduction(env, ['LINK_SIGNING_KEYS', 'S3_ENDPOINT'])
  return config
}
