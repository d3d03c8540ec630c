import t from 'tap'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import pg from 'pg'
import sharp from 'sharp'
import { createTestEnvironment, jpegImage, REPO_ROOT, waitFor } from '@imageapi/testkit'
import { buildScriptCall, readDockerfile, serviceTargets } from './helpers/dockerfile.js'
import { asArgv, loadCompose, serviceEnvironment } from './helpers/compose.js'
import { copyBuildContext } from './helpers/context.js'
import { cleanCommand, freePort, runArtifact, runAs, spawnArtifact, waitUntilReady, type ArtifactProcess } from './helpers/processes.js'

// The production start path without Docker: the build context .dockerignore lets through is
// built by the very command the Dockerfile runs (scripts/build-service.sh), once; then each
// artifact is started the way its image starts it (WORKDIR, ENV, ENTRYPOINT/CMD, the image's
// non-root user) with the environment docker-compose.yml gives it, except the addresses of
// Postgres, Redis and S3, which here are this test's own.

const dockerfile = readDockerfile()
const compose = loadCompose() // no .env: the laptop defaults, development secrets included
const call = buildScriptCall(dockerfile)
const targets = serviceTargets(dockerfile)

// ---- one build for the whole file --------------------------------------------------------------

// a run killed at its timeout leaves its directory behind: remove those over two hours old
for (const entry of readdirSync(tmpdir()).filter((name) => name.startsWith('imageapi-deployment-'))) {
  const path = join(tmpdir(), entry)
  if (Date.now() - statSync(path).mtimeMs > 2 * 3600_000) rmSync(path, { recursive: true, force: true })
}
const work = mkdtempSync(join(tmpdir(), 'imageapi-deployment-'))
// the services run as the image's user, who must be able to read the artifacts (not write them)
chmodSync(work, 0o755)
t.teardown(() => rmSync(work, { recursive: true, force: true }))
const context = join(work, 'context')
const outDir = join(work, 'out')
const home = join(work, 'home')
mkdirSync(home, { mode: 0o777 })
chmodSync(home, 0o777)

const contextCopy = copyBuildContext(context)

// The build stage's ENV, less PNPM_STORE_DIR: that names the image's cache mount, and this
// machine's own pnpm store plays its part here. TURBO_CACHE_DIR only makes a rerun on this
// machine faster (same inputs, same outputs); a fresh checkout builds everything.
const buildEnv: Record<string, string> = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '/root',
  ...Object.fromEntries(Object.entries(call.env).filter(([name]) => name !== 'PNPM_STORE_DIR')),
  TURBO_CACHE_DIR: join(REPO_ROOT, 'node_modules', '.cache', 'deployment-turbo'),
}
const buildStarted = Date.now()
const build = await new Promise<{ code: number | null; output: string }>((resolve) => {
  const [command, args] = cleanCommand(['sh', call.script, outDir, ...call.services], buildEnv)
  const child = spawn(command, args, { cwd: context, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk))
  child.on('close', (code) => resolve({ code, output }))
})
const buildSeconds = ((Date.now() - buildStarted) / 1000).toFixed(1)
const targetPackageDir = (artifact: string) => (artifact === 'cli' ? 'packages/cli' : `services/${artifact}`)

if (build.code === 0) await checkArtifacts()
else {
  t.fail(`scripts/build-service.sh failed (exit ${build.code}) after ${buildSeconds}s: the images would not build either`, { output: build.output.slice(-6000) })
}

async function checkArtifacts(): Promise<void> {
  const artifactDir = (target: string) => join(outDir, targets.find((x) => x.target === target)!.artifact)
  const argvOf = (target: string, command?: string[]) => {
    const image = dockerfile.image(target)
    return [...(image.entrypoint ?? []), ...(command ?? image.cmd ?? [])]
  }

  // ---- the environment each process gets -----------------------------------------------------------

  const environment = await createTestEnvironment(t)
  const server = new URL(environment.database.url)
  const databaseName = `imageapi_deploy_${randomBytes(5).toString('hex')}`
  const databaseUrl = Object.assign(new URL(server.toString()), { pathname: `/${databaseName}` }).toString()
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: server.toString() })
    await client.connect()
    await client.query(`drop database if exists ${databaseName} with (force)`)
    await client.end()
  })

  const gatewayPort = await freePort()
  const linksPort = await freePort()
  const workerPorts = [await freePort(), await freePort()] as const

  // What differs outside the compose network: where Postgres, Redis, S3, the links service and the
  // gateway are, and the queue prefix that keeps this test apart from others. Every other variable is
  // the image's or the compose file's.
  const addresses: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: environment.redisUrl,
    QUEUE_PREFIX: environment.queuePrefix,
    S3_ENDPOINT: environment.env.S3_ENDPOINT!,
    S3_ACCESS_KEY: environment.env.S3_ACCESS_KEY!,
    S3_SECRET_KEY: environment.env.S3_SECRET_KEY!,
    S3_BUCKET: environment.env.S3_BUCKET!,
    // loopback rather than the container's 0.0.0.0
    HOST: '127.0.0.1',
  }
  const perService: Record<string, Record<string, string>> = {
    gateway: { PORT: String(gatewayPort), LINKS_URL: `http://127.0.0.1:${linksPort}`, PUBLIC_URL: `http://127.0.0.1:${gatewayPort}` },
    links: { PORT: String(linksPort) },
  }

  /** The image's ENV, then the compose service's environment, then this machine's addresses. */
  function envFor(target: string, composeService = target, own: Record<string, string> = {}): Record<string, string> {
    const base = { ...dockerfile.image(target).env, ...serviceEnvironment(compose.services[composeService]!) }
    const overrides = Object.fromEntries(Object.entries({ ...addresses, ...perService[target], ...own }).filter(([name]) => name in base || name === 'QUEUE_PREFIX'))
    return { ...base, ...overrides, HOME: home }
  }
  // two workers on one host need a port each (in their containers both use the image's)
  const workerEnv = (index: 0 | 1) => envFor('thumbnail-worker', 'thumbnail-worker', { WORKER_HTTP_PORT: String(workerPorts[index]) })

  t.test('the build script makes one self-contained production artifact per image', async (t) => {
    t.comment(`context: ${contextCopy.files.length} files, ${(contextCopy.bytes / 1e6).toFixed(1)} MB; build: ${buildSeconds}s`)
    // build and test tools, which no production dependency pulls in (TypeScript may come in as a
    // library's optional peer, resolved from the workspace: reported, not refused)
    // (and no development store: s3rver, a fake S3 that accepts unsigned requests, or the radosgw fixture)
    const tools = ['tap', 'tsx', 'turbo', 'fast-check', '@imageapi+testkit', 's3rver', '@imageapi+radosgw']
    for (const { target, artifact } of targets) {
      const dir = join(outDir, artifact)
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string }
      t.equal(manifest.name, `@imageapi/${artifact}`, `${target}: the ${artifact} package`)
      const argv = argvOf(target)
      t.ok(existsSync(join(dir, argv[1]!)), `${target}: ${argv[1]} exists (the image's entry point)`)
      const source = JSON.parse(readFileSync(join(context, targetPackageDir(artifact), 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>
        devDependencies?: Record<string, string>
      }
      const devOnly = Object.keys(source.devDependencies ?? {}).filter((name) => !(name in (source.dependencies ?? {})))
      t.same(
        devOnly.filter((name) => existsSync(join(dir, 'node_modules', name))),
        [],
        `${target}: none of its devDependencies (${devOnly.join(', ')})`,
      )
      const installed = readdirSync(join(dir, 'node_modules', '.pnpm'))
      t.same(
        installed.filter((entry) => tools.some((name) => entry.startsWith(`${name}@`))),
        [],
        `${target}: no build or test tool anywhere in its tree`,
      )
      if (installed.some((entry) => entry.startsWith('typescript@'))) t.comment(`${target}: typescript is in the tree (a production dependency's peer)`)
      const packageDirs = [dir]
      for (const workspacePackage of installed.filter((entry) => entry.startsWith('@imageapi+'))) {
        const [, name] = /^@imageapi\+([\w-]+)@/.exec(workspacePackage) ?? []
        const packageDir = join(dir, 'node_modules', '.pnpm', workspacePackage, 'node_modules', '@imageapi', name!)
        packageDirs.push(packageDir)
        t.ok(existsSync(join(packageDir, 'dist', 'index.js')), `${target}: @imageapi/${name} is copied in, compiled`)
      }
      // each package's "files" field keeps its TypeScript sources and tests out of the artifact
      t.same(
        packageDirs.flatMap((packageDir) => ['src', 'test'].filter((sub) => existsSync(join(packageDir, sub))).map((sub) => relative(dir, join(packageDir, sub)))),
        [],
        `${target}: compiled code only, no src/ or test/ of any package`,
      )
    }
  })

  t.test('the artifacts run as the image user, who cannot change them', { skip: runAs().uid === undefined ? 'not root: the services run as this user' : false }, async (t) => {
    for (const target of ['gateway', 'thumbnail-worker']) {
      const write = await runArtifact(t, { name: `${target} write`, cwd: artifactDir(target), argv: ['node', '-e', "require('fs').writeFileSync('dist/written-at-run-time.js', '')"], env: { HOME: home } })
      t.not(write.code, 0, `${target}: uid ${runAs().uid} cannot write into the artifact`)
      t.match(write.output, /EACCES/)
    }
  })

  t.test('the test changes no variable name: only values the image or compose file already sets', async (t) => {
    for (const target of ['gateway', 'links', 'thumbnail-worker']) {
      const base = { ...dockerfile.image(target).env, ...serviceEnvironment(compose.services[target]!) }
      const own = target === 'thumbnail-worker' ? { WORKER_HTTP_PORT: '' } : perService[target]
      for (const name of Object.keys(own ?? {})) t.ok(name in base, `${target}: ${name} is one of its variables`)
      t.equal(envFor(target).NODE_ENV, 'production', `${target}: runs in production mode`)
    }
  })

  // ---- a missing required variable stops each entry point ------------------------------------------

  t.test('each entry point exits non-zero, naming the variable, when a required one is missing', async (t) => {
    const required = (output: string) => [...output.matchAll(/^\s*([A-Z][A-Z0-9_]+): is required/gm)].map((m) => m[1]!)
    await Promise.all([
      ...['gateway', 'links', 'thumbnail-worker'].map(async (target) => {
        const image = dockerfile.image(target)
        // the image alone, with nothing from compose: production refuses development defaults
        const bare = await runArtifact(t, { name: `${target} (image env only)`, cwd: artifactDir(target), argv: argvOf(target), env: { ...image.env, HOME: home } })
        t.not(bare.code, 0, `${target} with the image's environment only: exits non-zero`)
        const names = required(bare.output)
        t.ok(names.length > 0, `${target}: names what is missing (${names.join(', ')})`)
        const given = serviceEnvironment(compose.services[target]!)
        for (const name of names) t.ok(given[name], `${target}: docker-compose.yml sets ${name}`)
        // the first of them left out of the full environment, alone (each start costs ~2 s of CPU)
        const name = names[0]!
        const env = envFor(target)
        delete env[name]
        const result = await runArtifact(t, { name: `${target} without ${name}`, cwd: artifactDir(target), argv: argvOf(target), env })
        t.equal(result.code, 1, `${target} without ${name}: exit code 1`)
        t.match(result.output, new RegExp(`${name}: is required when NODE_ENV=production`), `${target} without ${name}: says so`)
        t.same(required(result.output), [name], `${target} without ${name}: names only ${name}`)
      }),
      (async () => {
        const cli = await runArtifact(t, { name: 'cli (bad DATABASE_URL)', cwd: artifactDir('cli'), argv: argvOf('cli', ['migrate']), env: { ...envFor('cli', 'migrate'), DATABASE_URL: 'mysql://nope' } })
        t.equal(cli.code, 1, 'cli with a DATABASE_URL that is not postgres: exit code 1')
        t.match(cli.output, /DATABASE_URL/, 'and names DATABASE_URL')
        const help = await runArtifact(t, { name: 'cli (image CMD)', cwd: artifactDir('cli'), argv: argvOf('cli'), env: { ...dockerfile.image('cli').env, HOME: home } })
        t.equal(help.code, 0, 'the cli image’s default command (--help) exits 0')
        t.match(help.output, /usage: imageapi <command>/)
      })(),
    ])
  })

  // ---- the stack from the artifacts ---------------------------------------------------------------------

  t.test('migrate and initadmin, with the compose commands, from the cli artifact', async (t) => {
    const migrate = await runArtifact(t, { name: 'migrate', cwd: artifactDir('cli'), argv: argvOf('cli', asArgv(compose.services.migrate!.command)), env: envFor('cli', 'migrate') })
    t.equal(migrate.code, 0, `migrate exits 0\n${migrate.output}`)
    t.match(migrate.output, new RegExp(`created database ${databaseName}`), 'creates the database')
    t.match(migrate.output, /applied migrations: /, 'applies the migrations')
    const initadmin = await runArtifact(t, { name: 'initadmin', cwd: artifactDir('cli'), argv: argvOf('cli', asArgv(compose.services.initadmin!.command)), env: envFor('cli', 'initadmin') })
    t.equal(initadmin.code, 0, `initadmin exits 0\n${initadmin.output}`)
    t.match(initadmin.output, /created admin admin@example\.com/, 'creates the default admin')
    const again = await runArtifact(t, { name: 'initadmin (again)', cwd: artifactDir('cli'), argv: argvOf('cli', asArgv(compose.services.initadmin!.command)), env: envFor('cli', 'initadmin') })
    t.equal(again.code, 0, 'initadmin at the next start exits 0')
    t.match(again.output, /an admin exists already/, 'and changes nothing')
  })

  const running: Record<string, ArtifactProcess> = {}
  const isListening = (entry: Record<string, unknown>) => /listening at http:\/\//i.test(String(entry.msg ?? ''))
  const base = `http://127.0.0.1:${gatewayPort}`

  t.test('gateway, links and two workers start from the artifacts with the images’ commands', async (st) => {
    // tied to the file, not this subtest: the processes serve the tests below
    running.links = spawnArtifact(t, { name: 'links', cwd: artifactDir('links'), argv: argvOf('links'), env: envFor('links') })
    running.gateway = spawnArtifact(t, { name: 'gateway', cwd: artifactDir('gateway'), argv: argvOf('gateway'), env: envFor('gateway') })
    running.worker1 = spawnArtifact(t, { name: 'worker 1', cwd: artifactDir('thumbnail-worker'), argv: argvOf('thumbnail-worker'), env: workerEnv(0) })
    running.worker2 = spawnArtifact(t, { name: 'worker 2', cwd: artifactDir('thumbnail-worker'), argv: argvOf('thumbnail-worker'), env: workerEnv(1) })
    await Promise.all([
      waitUntilReady(running.links, isListening),
      waitUntilReady(running.gateway, isListening),
      waitUntilReady(running.worker1, (entry) => entry.msg === 'worker ready'),
      waitUntilReady(running.worker2, (entry) => entry.msg === 'worker ready'),
    ])
    st.pass('all four are ready')
    const imageOf: Record<string, string> = { links: 'links', gateway: 'gateway', worker1: 'thumbnail-worker', worker2: 'thumbnail-worker' }
    for (const [key, child] of Object.entries(running)) {
      const environ = new Map(
        readFileSync(`/proc/${child.process.pid}/environ`, 'utf8')
          .split('\0')
          .filter(Boolean)
          .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)] as const),
      )
      // NODE_OPTIONS only as the image sets it (the gateway's), never the test runner's
      const clean = ![...environ.keys()].some((name) => name.startsWith('_TAPJS')) && environ.get('NODE_OPTIONS') === dockerfile.image(imageOf[key]!).env.NODE_OPTIONS
      st.ok(clean, `${child.name}: a clean environment, nothing from the test runner`)
    }
  })

  /** Runs an image's HEALTHCHECK command the way Docker does: in WORKDIR, with the container's environment. */
  async function healthcheck(target: string, env: Record<string, string>): Promise<number | string> {
    const check = dockerfile.image(target).healthcheck!
    const result = await runArtifact(t, { name: `${target} healthcheck`, cwd: artifactDir(target), argv: check.command, env }, 10_000)
    return result.code
  }

  t.test('the image health checks pass against the running services', async (t) => {
    t.equal(await healthcheck('gateway', envFor('gateway')), 0, 'gateway: healthy')
    t.equal(await healthcheck('links', envFor('links')), 0, 'links: healthy')
    t.equal(await healthcheck('thumbnail-worker', workerEnv(0)), 0, 'worker 1: healthy')
    t.equal(await healthcheck('thumbnail-worker', workerEnv(1)), 0, 'worker 2: healthy')
  })

  t.test('upload → thumbnails by two workers → signed links, through the gateway', async (t) => {
    const login = await fetch(`${base}/api/token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@example.com', password: 'admin' }),
    })
    t.equal(login.status, 200, 'the admin initadmin made logs in (JWT_SECRET: the compose default)')
    const { access } = (await login.json()) as { access: string }
    const auth = { authorization: `Bearer ${access}` }

    const photos = await Promise.all([0, 1, 2, 3].map((i) => jpegImage(1200 + 40 * i, 900)))
    const uploaded = await Promise.all(
      photos.map(async (photo, i) => {
        const form = new FormData()
        form.set('title', `deployment ${i}`)
        form.set('image', new Blob([photo]), `photo-${i}.jpg`)
        const response = await fetch(`${base}/api/images`, { method: 'POST', headers: auth, body: form })
        t.equal(response.status, 201, `upload ${i}: 201`)
        return (await response.json()) as { id: string }
      }),
    )

    interface ImageBody {
      id: string
      thumbnails: Array<{ height: number; width: number | null; status: string; url: string | null }>
      original: { url: string } | null
    }
    const ready = await Promise.all(
      uploaded.map((image) =>
        waitFor(
          async () => {
            const body = (await (await fetch(`${base}/api/images/${image.id}`, { headers: auth })).json()) as ImageBody
            if (body.thumbnails.some((x) => x.status === 'failed')) throw new Error(`thumbnail failed: ${JSON.stringify(body.thumbnails)}`)
            return body.thumbnails.length > 0 && body.thumbnails.every((x) => x.status === 'ready') ? body : undefined
          },
          { timeoutMs: 60_000, what: `the thumbnails of ${image.id}` },
        ),
      ),
    )

    for (const [i, image] of ready.entries()) {
      t.same(
        image.thumbnails.map((x) => x.height),
        [200, 400],
        `image ${i}: the admin's tier (Enterprise) gets 200 and 400 px`,
      )
      for (const thumbnail of image.thumbnails) {
        t.ok(thumbnail.url!.startsWith(`${base}/v/`), 'the link is on PUBLIC_URL')
        const response = await fetch(thumbnail.url!)
        t.equal(response.status, 200, `image ${i}, ${thumbnail.height} px: the link opens (gateway → links → storage)`)
        t.equal(response.headers.get('content-type'), 'image/jpeg')
        const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata()
        t.equal(meta.height, thumbnail.height, `image ${i}, ${thumbnail.height} px: real pixel height`)
      }
    }
    const original = await fetch(ready[0]!.original!.url)
    t.equal(original.status, 200, 'the original link opens')
    t.same(Buffer.from(await original.arrayBuffer()), photos[0], 'the original, byte for byte')
    const tampered = await fetch(`${ready[0]!.thumbnails[0]!.url!.slice(0, -2)}xx`)
    t.equal(tampered.status, 404, 'a tampered link: 404')

    const done = [running.worker1!, running.worker2!].map((worker) => worker.logs.filter((entry) => entry.msg === 'thumbnails done').length)
    t.equal(done[0]! + done[1]!, uploaded.length, 'every job done once, across the two workers')
    t.comment(`jobs per worker: ${done.join(' / ')}`)
  })

  t.test('SIGTERM: every process exits 0; the health checks then fail', async (t) => {
    const stop = async (child: ArtifactProcess) => {
      const code = await child.stop('SIGTERM')
      t.equal(code, 0, `${child.name} exits 0 on SIGTERM`, { output: child.output.slice(-15).join('\n') })
    }
    await stop(running.worker1!)
    t.not(await healthcheck('thumbnail-worker', workerEnv(0)), 0, 'worker 1 gone: unhealthy')
    t.equal(await healthcheck('thumbnail-worker', workerEnv(1)), 0, 'worker 2 still healthy')
    await stop(running.worker2!)
    t.not(await healthcheck('thumbnail-worker', workerEnv(1)), 0, 'worker 2 gone: unhealthy')
    await stop(running.gateway!)
    t.not(await healthcheck('gateway', envFor('gateway')), 0, 'gateway gone: unhealthy')
    await stop(running.links!)
    t.not(await healthcheck('links', envFor('links')), 0, 'links gone: unhealthy')
  })
}
