#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { exitOnConfigError, loadConfig, Type } from '@imageapi/config'
import { databaseEnvSchema, databaseMigrationEnvSchema } from '@imageapi/db'
import { AccountError, createUser, DEFAULT_ADMIN, initAdmin, migrate } from './commands.js'
import { parseYesNo, terminalSafe, UsageError } from './admin-context.js'

const USAGE = `usage: imageapi <command> [options]

commands:
  migrate                                   create the database if needed and apply migrations; connects to
                                            DATABASE_MIGRATION_URL when set, else DATABASE_URL: it needs Postgres
                                            itself (a session), not a pooler in transaction mode such as PgBouncer
  initadmin [--email E] [--password P]      create the first admin (default ${DEFAULT_ADMIN.email} / ${DEFAULT_ADMIN.password}); does nothing if an admin exists
  create-user --email E --password P --tier NAME [--admin yes|no]
  tiers list
  tiers create --name NAME --heights 120,640 [--original-link yes|no] [--expiring-links yes|no]
  tiers update NAME [--name NEW] [--heights H,...] [--original-link yes|no] [--expiring-links yes|no] [--watch]
  tiers delete NAME                         only a tier nobody is on
  users list [--tier NAME] [--email TEXT] [--limit N] [--after EMAIL]
  users create --email E --password P --tier NAME [--admin yes|no]
  users update EMAIL [--email NEW] [--password P] [--tier NAME] [--admin yes|no] [--active yes|no] [--watch]
  backfill --tier NAME [--watch]            make every thumbnail the tier grants that its users' images lack
  backfill --id ID --watch                  watch a backfill (the id a tier or user change printed)

Tier and user changes follow the admin API's rules. A change that owes thumbnails (new heights, a
user moved) queues them at backfill priority and prints the backfill's id; --watch shows its progress.

environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/imageapi), DATABASE_MIGRATION_URL
(migrate only; default DATABASE_URL); for the admin
commands also REDIS_URL or REDIS_CLUSTER_NODES, QUEUE_PREFIX, TIER_HEIGHT_MIN, TIER_HEIGHT_MAX (as the gateway's)`

// Everything printed passes through terminalSafe: an email, a tier name or an error message may carry
// escape sequences meant for the admin's terminal; lines of a message keep their newlines and tabs.
function fail(message: string): never {
  process.stderr.write(`${terminalSafe(message, '\n\t')}\n`)
  process.exit(1)
}

const [command, ...rest] = process.argv.slice(2)
let databaseUrl: string
let migrationUrl: string
try {
  const config = loadConfig(Type.Object({ ...databaseEnvSchema, ...databaseMigrationEnvSchema }))
  databaseUrl = config.DATABASE_URL
  migrationUrl = config.DATABASE_MIGRATION_URL ?? config.DATABASE_URL
} catch (error) {
  exitOnConfigError(error)
}
const print = (line: string) => process.stdout.write(`${terminalSafe(line, '\n\t')}\n`)

try {
  switch (command) {
    case 'migrate':
      await migrate(migrationUrl, print)
      break
    case 'initadmin': {
      const { values } = parseArgs({ args: rest, options: { email: { type: 'string' }, password: { type: 'string' } } })
      await initAdmin(databaseUrl, { email: values.email ?? DEFAULT_ADMIN.email, password: values.password ?? DEFAULT_ADMIN.password }, print)
      break
    }
    case 'create-user': {
      const { values } = parseArgs({
        args: rest,
        // --admin takes yes|no, as in `users create` and `users update`
        options: { email: { type: 'string' }, password: { type: 'string' }, tier: { type: 'string' }, admin: { type: 'string' } },
      })
      const missing = (['email', 'password', 'tier'] as const).filter((name) => !values[name])
      if (missing.length) fail(`create-user needs ${missing.map((m) => `--${m}`).join(', ')}\n\n${USAGE}`)
      const admin = parseYesNo(values.admin, 'admin') ?? false
      await createUser(databaseUrl, { email: values.email!, password: values.password!, tier: values.tier!, admin }, print)
      break
    }
    case 'tiers':
    case 'users':
    case 'backfill': {
      const { runAdminCommand } = await import('./admin-commands.js')
      await runAdminCommand(command, rest, print)
      break
    }
    case undefined:
    case 'help':
    case '--help':
      print(USAGE)
      break
    default:
      fail(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`)
  }
} catch (error) {
  // a message about the thing addressed (a tier in use, no such user) needs no field name before it
  if (error instanceof AccountError) fail(error.field === 'id' ? error.message : `${error.field}: ${error.message}`)
  if (error instanceof UsageError) fail(`${error.message}\n\n${USAGE}`)
  if (error instanceof TypeError && (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) fail(`${error.message}\n\n${USAGE}`)
  fail(`error: ${(error as Error).message}`)
}
