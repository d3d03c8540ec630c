import t from 'tap'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import { REPO_ROOT } from '@imageapi/testkit'

// What a new user copies from README must work from a fresh clone: the files its examples upload
// exist in the repository and are images the API accepts, and the CLI is called the way that
// prints only its own output.
const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')

t.test("every file README's curl examples upload is in the repository, and is a PNG or JPEG within the default limits", async (t) => {
  const uploaded = [...new Set([...readme.matchAll(/-F\s+image=@(\S+)/g)].map((match) => match[1]!))]
  t.ok(uploaded.length >= 1, `README uploads files in its examples (${uploaded.join(', ')})`)
  for (const path of uploaded) {
    t.ok(existsSync(join(REPO_ROOT, path)), `${path} exists (the examples run from the repository's root)`)
    const metadata = await sharp(join(REPO_ROOT, path)).metadata()
    t.ok(metadata.format === 'jpeg' || metadata.format === 'png', `${path} is a ${metadata.format}`)
    t.ok(statSync(join(REPO_ROOT, path)).size <= 25 * 1024 * 1024 && metadata.width! * metadata.height! <= 50_000_000, `${path} is within 25 MiB and 50 MP`)
  }
})

t.test('README calls the CLI with --silent, so pnpm does not print its script line first', async (t) => {
  const calls = readme.split('\n').filter((line) => /^\s*pnpm\b.*\bimageapi\b/.test(line))
  t.ok(calls.length > 5, `README shows CLI calls (${calls.length})`)
  for (const call of calls) t.match(call, /^\s*pnpm --silent imageapi /, call.trim())
})
