import { parseArgs } from 'node:util'
import { AccountError, createAccount, findAccount, listAccounts, normalizeEmail, updateAccount } from '@imageapi/accounts'
import { formatTable, yesNo, parseYesNo, UsageError, type AdminContext } from './admin-context.js'
import { followBackfill } from './backfill-commands.js'
import { withRepositories } from './commands.js'

/** `users list|create|update`: the admin API's rules (the same package), from a terminal. */
export async function usersCommand(args: string[], context: AdminContext): Promise<void> {
  const [action, ...rest] = args
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      email: { type: 'string' },
      password: { type: 'string' },
      tier: { type: 'string' },
      admin: { type: 'string' },
      active: { type: 'string' },
      limit: { type: 'string' },
      after: { type: 'string' },
      watch: { type: 'boolean', default: false },
    },
  })
  const isAdmin = parseYesNo(values.admin, 'admin')
  const isActive = parseYesNo(values.active, 'active')

  await withRepositories(context.databaseUrl, async (repos) => {
    switch (action) {
      case 'list': {
        const limit = values.limit === undefined ? 50 : Number(values.limit)
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit takes a whole number from 1 to 1000')
        const page = await listAccounts(repos, {
          limit,
          ...(values.after !== undefined ? { after: values.after.toLowerCase() } : {}),
          ...(values.tier !== undefined ? { tierName: values.tier } : {}),
          ...(values.email !== undefined ? { email: values.email } : {}),
        })
        const rows = page.users.map((user) => [user.email, user.tier_name, yesNo(user.is_admin), yesNo(user.is_active), String(user.images)])
        for (const line of formatTable([['email', 'tier', 'admin', 'active', 'images'], ...rows])) context.print(line)
        if (page.nextAfterEmail) context.print(`more: --after ${page.nextAfterEmail}`)
        return
      }
      case 'create': {
        const missing = (['email', 'password', 'tier'] as const).filter((name) => values[name] === undefined)
        if (missing.length) throw new UsageError(`users create needs ${missing.map((name) => `--${name}`).join(', ')}`)
        const user = await createAccount(repos, { email: values.email!, password: values.password!, tierName: values.tier!, isAdmin: isAdmin ?? false })
        // the tier as it is named (--tier premium finds Premium)
        const { tier_name } = await findAccount(repos, user.id)
        context.print(`created ${user.is_admin ? 'admin' : 'user'} ${user.email} on tier ${tier_name}`)
        return
      }
      case 'update': {
        if (positionals.length !== 1) throw new UsageError("users update needs the user's email")
        const current = await repos.users.findByEmail(normalizeEmail(positionals[0]!))
        if (!current) throw new AccountError('email', `there is no user with email ${positionals[0]}`, 'not_found')
        const { user, backfill } = await updateAccount(repos, current.id, {
          ...(values.email !== undefined ? { email: values.email } : {}),
          ...(values.password !== undefined ? { password: values.password } : {}),
          ...(values.tier !== undefined ? { tierName: values.tier } : {}),
          ...(isAdmin !== undefined ? { isAdmin } : {}),
          ...(isActive !== undefined ? { isActive } : {}),
        })
        context.print(`updated ${user.email}: tier ${user.tier_name}, admin ${yesNo(user.is_admin)}, active ${yesNo(user.is_active)}`)
        if (values.tier !== undefined) await followBackfill(repos, context, backfill, values.watch ?? false)
        return
      }
      default:
        throw new UsageError(action ? `unknown users command ${JSON.stringify(action)}` : 'users needs a command: list, create or update')
    }
  })
}
