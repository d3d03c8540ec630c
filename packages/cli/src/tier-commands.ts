import { parseArgs } from 'node:util'
import { createTier, deleteTier, findTierByName, updateTier } from '@imageapi/accounts'
import type { Tier } from '@imageapi/db'
import { formatTable, yesNo, parseHeights, parseYesNo, UsageError, type AdminContext } from './admin-context.js'
import { followBackfill } from './backfill-commands.js'
import { withRepositories } from './commands.js'

function describeTier(tier: Tier): string {
  return `${tier.name}: ${tier.thumbnail_heights.join(', ')} px, original ${yesNo(tier.original_link)}, expiring links ${yesNo(tier.expiring_links)}`
}

/** `tiers list|create|update|delete`: the admin API's rules (the same package), from a terminal. */
export async function tiersCommand(args: string[], context: AdminContext): Promise<void> {
  const [action, ...rest] = args
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      heights: { type: 'string' },
      'original-link': { type: 'string' },
      'expiring-links': { type: 'string' },
      watch: { type: 'boolean', default: false },
    },
  })
  const thumbnailHeights = parseHeights(values.heights)
  const originalLink = parseYesNo(values['original-link'], 'original-link')
  const expiringLinks = parseYesNo(values['expiring-links'], 'expiring-links')
  const named = () => {
    if (positionals.length !== 1) throw new UsageError(`tiers ${action} needs the tier's name`)
    return positionals[0]!
  }

  await withRepositories(context.databaseUrl, async (repos) => {
    switch (action) {
      case 'list': {
        const tiers = await repos.tiers.listWithUsers()
        const rows = tiers.map((tier) => [String(tier.id), tier.name, tier.thumbnail_heights.join(','), yesNo(tier.original_link), yesNo(tier.expiring_links), String(tier.users)])
        for (const line of formatTable([['id', 'name', 'heights', 'original', 'expiring', 'users'], ...rows])) context.print(line)
        return
      }
      case 'create': {
        if (values.name === undefined || thumbnailHeights === undefined) throw new UsageError('tiers create needs --name and --heights')
        const tier = await createTier(
          repos,
          { name: values.name, thumbnailHeights, ...(originalLink !== undefined ? { originalLink } : {}), ...(expiringLinks !== undefined ? { expiringLinks } : {}) },
          context.tierRules,
        )
        context.print(`created tier ${describeTier(tier)}`)
        return
      }
      case 'update': {
        const tier = await findTierByName(repos, named())
        const result = await updateTier(
          repos,
          tier.id,
          {
            ...(values.name !== undefined ? { name: values.name } : {}),
            ...(thumbnailHeights !== undefined ? { thumbnailHeights } : {}),
            ...(originalLink !== undefined ? { originalLink } : {}),
            ...(expiringLinks !== undefined ? { expiringLinks } : {}),
          },
          context.tierRules,
        )
        context.print(`updated tier ${describeTier(result.tier)}`)
        await followBackfill(repos, context, result.backfill, values.watch ?? false)
        return
      }
      case 'delete': {
        const tier = await findTierByName(repos, named())
        await deleteTier(repos, tier.id)
        context.print(`deleted tier ${tier.name}`)
        return
      }
      default:
        throw new UsageError(action ? `unknown tiers command ${JSON.stringify(action)}` : 'tiers needs a command: list, create, update or delete')
    }
  })
}
