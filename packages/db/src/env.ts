import { Type } from '@imageapi/config'

export const databaseEnvSchema = {
  DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://', default: 'postgres://postgres@127.0.0.1:5432/imageapi' }),
}
