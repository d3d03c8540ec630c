import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import dockerignore, { type Ignore } from '@balena/dockerignore'
import { REPO_ROOT } from '@imageapi/testkit'

// a CommonJS module whose typings claim an ES default export: at run time the import is the factory
const ignore = dockerignore as unknown as () => Ignore

export function readDockerignore(): string[] {
  return readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
}

/**
 * The files `docker build .` would send: the repository less what .dockerignore excludes
 * (Docker's own matching rules, via @balena/dockerignore). Paths are relative, with `/`.
 */
export function buildContextFiles(root = REPO_ROOT): string[] {
  const patterns = readDockerignore()
  const matcher = ignore().add(patterns)
  // with no exception (!) patterns, an excluded directory can be skipped whole
  const canPrune = !patterns.some((p) => p.startsWith('!'))
  const files: string[] = []
  const walk = (relative: string) => {
    for (const entry of readdirSync(join(root, relative), { withFileTypes: true })) {
      const path = relative ? `${relative}/${entry.name}` : entry.name
      if (entry.isDirectory()) {
        if (canPrune && matcher.ignores(path)) continue
        walk(path)
      } else if (!matcher.ignores(path)) files.push(path)
    }
  }
  walk('')
  return files.sort()
}

/** Copies the build context into `destination`, as the Dockerfile's `COPY . .` would see it. */
export function copyBuildContext(destination: string, root = REPO_ROOT): { files: string[]; bytes: number } {
  const listed = buildContextFiles(root)
  const files: string[] = []
  let bytes = 0
  for (const file of listed) {
    const target = join(destination, file)
    mkdirSync(dirname(target), { recursive: true })
    try {
      copyFileSync(join(root, file), target)
    } catch (error) {
      // other test files running beside this one write and remove temporary files in the tree
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw error
    }
    files.push(file)
    bytes += statSync(target).size
  }
  return { files, bytes }
}
