import { execFileSync, spawnSync } from 'node:child_process'

/** The Debian packages a single-node S3 gateway needs (no ceph-mgr: S3 works without one). */
export const CEPH_PACKAGES = ['ceph-mon', 'ceph-osd', 'radosgw', 'ceph-common'] as const
const CEPH_COMMANDS = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'monmaptool', 'ceph']

function missingCommands(): string[] {
  return CEPH_COMMANDS.filter((command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status !== 0)
}

/**
 * Installs Ceph's packages when a command is missing, as `.ci/run` installs PostgreSQL and Redis.
 * Needs root (apt-get); otherwise says what to run.
 */
export function ensureCephInstalled(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): void {
  const missing = missingCommands()
  if (missing.length === 0) return
  if (process.getuid?.() !== 0) {
    throw new Error(`the S3 store needs Ceph's radosgw (missing: ${missing.join(', ')}); install it with: sudo apt-get install -y --no-install-recommends ${CEPH_PACKAGES.join(' ')}`)
  }
  log(`installing ${CEPH_PACKAGES.join(' ')} (Debian packages, ~25 s) for the S3 store`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env })
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...CEPH_PACKAGES], { stdio: 'ignore', env })
  const still = missingCommands()
  if (still.length > 0) throw new Error(`installed ${CEPH_PACKAGES.join(' ')} but still missing: ${still.join(', ')}`)
}
