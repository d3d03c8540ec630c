import fp from 'fastify-plugin'
import { createDatabase, createRepositories, type Database, type Kysely, type Repositories } from '@imageapi/db'

declare module 'fastify' {
  interface FastifyInstance {
    db: Kysely<Database>
    repos: Repositories
  }
}

export default fp<{ databaseUrl: string; poolMax?: number | undefined; db?: Kysely<Database> }>(
  async (app, options) => {
    const db = options.db ?? createDatabase(options.databaseUrl, { applicationName: 'imageapi-gateway', max: options.poolMax })
    app.decorate('db', db)
    app.decorate('repos', createRepositories(db))
    // a database handed in by the caller (tests) is the caller's to close
    if (!options.db) app.addHook('onClose', async () => db.destroy())
  },
  { name: 'database' },
)
