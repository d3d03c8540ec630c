import { exitOnConfigError, loadConfig, Type } from '@imageapi/config'
import { databaseEnvSchema } from '@imageapi/db'
import { queueEnvSchema, redisTargetFromConfig } from '@imageapi/queue'
import { tierRulesEnvSchema, tierRulesFromConfig } from '@imageapi/accounts'
import { terminalSafe, type AdminContext } from './admin-context.js'
import type { Print } from './commands.js'
import { backfillCommand } from './backfill-commands.js'
import { tiersCommand } from './tier-commands.js'
import { usersCommand } from './user-commands.js'

/** What the admin commands read from the environment: the database, the queue, the tier rules the API also follows. */
export const adminEnvSchema = Type.Object({ ...databaseEnvSchema, ...queueEnvSchema, ...tierRulesEnvSchema })

const COMMANDS = { tiers: tiersCommand, users: usersCommand, backfill: backfillCommand }

/** `tiers`, `users` and `backfill`; main.ts loads this module only for them (it brings the queue client along). */
export async function runAdminCommand(command: keyof typeof COMMANDS, args: string[], print: Print): Promise<void> {
  let context: AdminContext
  try {
    const config = loadConfig(adminEnvSchema)
    const redis = redisTargetFromConfig(config)
    context = {
      databaseUrl: config.DATABASE_URL,
      redisUrl: config.REDIS_URL,
      ...('clusterNodes' in redis ? { redisClusterNodes: redis.clusterNodes } : {}),
      queuePrefix: config.QUEUE_PREFIX,
      tierRules: tierRulesFromConfig(config),
      print,
      // the bar redraws itself with \r; nothing else raw reaches the terminal
      progress: { write: (text) => process.stdout.write(terminalSafe(text, '\r\n')), isTTY: process.stdout.isTTY === true },
      pollMs: 500,
      queueTimeoutMs: 5_000,
    }
  } catch (error) {
    exitOnConfigError(error)
  }
  await COMMANDS[command](args, context)
}
