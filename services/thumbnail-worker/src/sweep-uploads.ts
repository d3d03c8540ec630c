import type { Logger } from '@imageapi/logger'
import type { PendingUpload, Repositories } from '@imageapi/db'
import { resumableUploadSideKeys } from '@imageapi/media'
import type { ObjectStorage } from '@imageapi/storage'

export interface UploadSweeperDeps {
  repos: Repositories
  storage: ObjectStorage
  log: Logger
  now?: () => number
}

/** Every object an upload may have staged: its file and, for a resumable one, the TUS store's side objects. */
function stagedObjects(upload: PendingUpload): string[] {
  return upload.kind === 'resumable' ? [upload.object_key, ...resumableUploadSideKeys(upload.object_key)] : [upload.object_key]
}

/**
 * Removes uploads that expired without completing (issue 16): unfinished multipart uploads are
 * aborted first (their parts are no object the deletion outbox could name), then the rows go and
 * their objects are recorded in the outbox in one transaction, then removed. Storage failing at
 * any step leaves the row, or the outbox entry, for the next pass.
 */
export async function sweepExpiredUploads(deps: UploadSweeperDeps, batch = 100): Promise<number> {
  const now = new Date(deps.now?.() ?? Date.now())
  const expired = await deps.repos.pendingUploads.listExpired(now, batch)
  if (expired.length === 0) return 0
  for (const upload of expired) {
    if (upload.kind === 'resumable') await deps.storage.abortIncompleteUploads(upload.object_key)
  }
  const objects = new Map(expired.map((upload) => [upload.id, stagedObjects(upload)]))
  const keys = await deps.repos.pendingUploads.forgetExpired([...objects.keys()], (id) => objects.get(id)!, now)
  await deps.storage.removeObjects(keys)
  await deps.repos.objectDeletions.confirm(keys)
  const swept = expired.filter((upload) => keys.includes(upload.object_key)).length
  if (swept > 0) deps.log.info({ swept }, 'expired uploads removed')
  return swept
}
