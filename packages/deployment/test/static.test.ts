import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DCLinter } from 'dclint'
import { validate } from 'dockerfile-utils'
import { REPO_ROOT } from '@imageapi/testkit'
import { buildScriptCall, DOCKERFILE_PATH, readDockerfile, serviceTargets } from './helpers/dockerfile.js'
import { asArgv, buildTarget, COMPOSE_PATH, composeVariables, loadCompose, readComposeText, readEnvExample, serviceEnvironment } from './helpers/compose.js'
import { buildContextFiles } from './helpers/context.js'
import { nginxSize, nginxSyntaxCheck, PROXY_CONFIG_PATH, proxyServers } from './helpers/proxy.js'

// Checks that need no Docker engine and no build: the compose file against the Compose
// specification and dclint's rules, every Dockerfile parsed and validated, and the promises the
// images and the compose file make (non-root, health checks, no secrets, start order).

const dockerfile = readDockerfile()
const compose = loadCompose()
const SERVICES = ['gateway', 'links', 'thumbnail-worker'] as const
const rootPackage = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { packageManager: string }

t.test('docker-compose.yml: valid against the Compose specification, no dclint error or warning', async (t) => {
  const linter = new DCLinter({ rules: {}, quiet: false, debug: false, exclude: [] })
  // dclint's typings do not resolve under NodeNext; the shape used here:
  const [result] = linter.lintFiles([COMPOSE_PATH], false) as Array<{
    messages: Array<{ line: number; column: number; type: string; rule: string; message: string }>
    errorCount: number
    warningCount: number
  }>
  t.ok(result, 'dclint read the file')
  const problems = result!.messages.map((m) => `${m.line}:${m.column} ${m.type} ${m.rule}: ${m.message}`)
  t.same(problems, [], 'no problem reported (schema validation included)')
  t.equal(result!.errorCount, 0)
  t.equal(result!.warningCount, 0)
})

t.test('every Dockerfile parses and validates without a problem', async (t) => {
  const dockerfiles = buildContextFiles().filter((f) => /(^|\/)Dockerfile(\.[\w-]+)?$|\.Dockerfile$/.test(f))
  const all = [DOCKERFILE_PATH, ...dockerfiles.map((f) => join(REPO_ROOT, f)).filter((f) => f !== DOCKERFILE_PATH)]
  for (const path of all) {
    const diagnostics = validate(readFileSync(path, 'utf8'))
    t.same(
      diagnostics.map((d) => `${d.range.start.line + 1}: ${d.message}`),
      [],
      `${path.slice(REPO_ROOT.length + 1)}: no diagnostics`,
    )
  }
  t.ok(dockerfile.stages.length >= 3, 'parsed into stages')
})

t.test('the images: Node 20 on Debian slim, non-root, production mode, a health check, exec-form commands', async (t) => {
  const targets = serviceTargets(dockerfile)
  t.same(targets.map((x) => x.target).sort(), ['cli', 'gateway', 'links', 'thumbnail-worker'], 'one target per service and one for the CLI')
  for (const { target, artifact } of targets) {
    const image = dockerfile.image(target)
    t.equal(image.baseImage, 'node:20-bookworm-slim', `${target}: node:20-bookworm-slim`)
    t.equal(artifact, target, `${target}: copies the build output of the same name`)
    t.ok(image.user && !['root', '0', '0:0'].includes(image.user), `${target}: runs as a non-root user (${image.user})`)
    t.equal(image.env.NODE_ENV, 'production', `${target}: NODE_ENV=production`)
    t.equal(image.workdir, '/app', `${target}: WORKDIR /app, where the build output is copied`)
    t.ok(image.copies.every((c) => c.destination === '/app'), `${target}: the output goes to /app`)
    const argv = [...(image.entrypoint ?? []), ...(image.cmd ?? [])]
    t.equal(argv[0], 'node', `${target}: starts with plain node`)
    t.match(argv[1], /^dist\/[\w-]+\.js$/, `${target}: runs the compiled entry point`)
    t.notOk(argv.some((a) => a.includes('--conditions') || a.includes('tsx')), `${target}: no source condition, no TypeScript loader`)
    if (target === 'cli') {
      t.equal(image.healthcheck?.none, true, 'cli: HEALTHCHECK NONE (one-shot commands)')
    } else {
      t.equal(image.healthcheck?.none, false, `${target}: has a HEALTHCHECK`)
      t.equal(image.healthcheck?.command[0], 'node', `${target}: the health check is a node one-liner (the slim image has no curl)`)
    }
  }
  for (const [service, portVariable] of [['gateway', 'PORT'], ['links', 'PORT'], ['thumbnail-worker', 'WORKER_HTTP_PORT']] as const) {
    const image = dockerfile.image(service)
    const port = image.env[portVariable]
    t.equal(image.env.HOST, '0.0.0.0', `${service}: listens on every interface of the container`)
    t.ok(port && image.expose.includes(port), `${service}: EXPOSEs its ${portVariable} (${port})`)
    t.ok(image.healthcheck?.command.some((arg) => arg.includes(`process.env.${portVariable}`) && arg.includes('/healthz')), `${service}: the health check asks /healthz on ${portVariable}`)
  }
})

t.test('no secret or account in any image; the build runs the shared build script with the pinned pnpm', async (t) => {
  const secretLike = /SECRET|PASSWORD|SIGNING_KEYS|TOKEN|ADMIN|_KEY$/
  for (const stage of dockerfile.stages) {
    const names = [...Object.keys(stage.env), ...stage.args.map((a) => a.split('=')[0]!)]
    t.same(
      names.filter((n) => secretLike.test(n)),
      [],
      `stage ${stage.name}: no secret-like ENV or ARG`,
    )
    t.notOk(
      stage.copies.some((c) => c.sources.some((s) => s.includes('.env'))),
      `stage ${stage.name}: copies no .env`,
    )
    t.notOk(
      stage.runs.some((r) => /initadmin|create-user/.test(r)),
      `stage ${stage.name}: creates no account at build time`,
    )
  }
  const call = buildScriptCall(dockerfile)
  t.equal(call.script, 'scripts/build-service.sh', 'the build stage runs scripts/build-service.sh')
  t.same([...call.services].sort(), ['cli', 'gateway', 'links', 'thumbnail-worker'], 'for every service')
  const pinned = rootPackage.packageManager.replace(/^pnpm@/, '')
  t.ok(dockerfile.text.includes(`npm install --global pnpm@${pinned}`), `installs the pinned pnpm ${pinned} (package.json's packageManager)`)
  t.match(readFileSync(join(REPO_ROOT, 'scripts/build-service.sh'), 'utf8'), /deploy --prod/, 'the script deploys production dependencies only')
})

t.test('.dockerignore keeps the context small and leaves out what must not go in', async (t) => {
  const files = buildContextFiles()
  const has = (prefix: string) => files.some((f) => f === prefix || f.startsWith(`${prefix}/`))
  for (const needed of ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'turbo.json', 'tsconfig.base.json', 'scripts/build-service.sh']) {
    t.ok(has(needed), `${needed} is in the context`)
  }
  for (const name of ['gateway', 'links', 'thumbnail-worker']) t.ok(has(`services/${name}/src`), `services/${name}/src is in the context`)
  for (const name of ['cli', 'config', 'db']) t.ok(has(`packages/${name}/src`), `packages/${name}/src is in the context`)
  for (const excluded of ['node_modules', '.git', '.env', '.data']) t.notOk(has(excluded), `${excluded} is not`)
  t.notOk(files.some((f) => f.split('/').some((part) => ['node_modules', 'dist', '.turbo', '.tap'].includes(part))), 'nothing installed or built on the host')
  t.notOk(files.some((f) => /(^|\/)\.env(\.|$)/.test(f)), 'no .env file of any kind')
  t.ok(files.length < 2_000, `a small context (${files.length} files)`)
})

t.test('docker-compose.yml: the stack, its order and its settings', async (t) => {
  const services = compose.services
  t.same(
    Object.keys(services).sort(),
    ['bucket', 'gateway', 'initadmin', 'links', 'migrate', 'minio', 'postgres', 'proxy', 'redis', 'thumbnail-worker'],
    'every service of the stack',
  )

  // infrastructure
  t.ok(services.postgres!.healthcheck, 'postgres has a health check')
  t.ok(services.postgres!.volumes?.some((v) => v.startsWith('postgres-data:')), 'postgres keeps its data in a named volume')
  t.ok(services.minio!.healthcheck, 'minio has a health check')
  t.ok(services.minio!.volumes?.some((v) => v.startsWith('minio-data:')), 'minio keeps its data in a named volume')
  const redisCommand = asArgv(services.redis!.command).join(' ')
  t.match(redisCommand, /--appendonly yes/, 'redis: append-only file on')
  t.match(redisCommand, /--maxmemory-policy noeviction/, 'redis: noeviction, as BullMQ requires')
  t.ok(services.redis!.healthcheck, 'redis has a health check')
  for (const volume of ['postgres-data', 'minio-data', 'redis-data']) t.ok(compose.volumes && volume in compose.volumes, `volume ${volume} is declared`)
  t.match(asArgv(services.bucket!.command).join(' '), /mc mb --ignore-existing/, 'bucket: creates the bucket if missing')

  // the images built from the Dockerfile
  const targets = new Set(dockerfile.stages.map((s) => s.name))
  for (const [name, service] of Object.entries(services)) {
    const target = buildTarget(service)
    if (service.build) t.ok(target && targets.has(target), `${name}: builds Dockerfile target ${target}`)
    if (service.build) t.equal(service.image, undefined, `${name}: built, never pulled`)
    t.equal(service.container_name, undefined, `${name}: no container_name (it would forbid --scale)`)
  }
  t.equal(buildTarget(services.migrate!), 'cli')
  t.same(asArgv(services.migrate!.command), ['migrate'], 'migrate runs `migrate`')
  t.equal(buildTarget(services.initadmin!), 'cli')
  t.same(asArgv(services.initadmin!.command), ['initadmin', '--email', 'admin@example.com', '--password', 'admin'], 'initadmin at start, with the default admin when nothing is set')
  t.same(
    asArgv(loadCompose({ ADMIN_EMAIL: 'boss@example.org', ADMIN_PASSWORD: 's3cret-pass' }).services.initadmin!.command),
    ['initadmin', '--email', 'boss@example.org', '--password', 's3cret-pass'],
    'ADMIN_EMAIL and ADMIN_PASSWORD choose the admin',
  )
  for (const service of SERVICES) t.equal(buildTarget(services[service]!), service, `${service} builds its own target`)

  // the proxy, the only published service: gateway and links publish nothing, so they scale
  t.same(services.proxy!.ports, ['127.0.0.1:8000:80'], 'the proxy is published on 8000 (loopback by default)')
  t.same(loadCompose({ GATEWAY_PORT: '8080' }).services.proxy!.ports, ['127.0.0.1:8080:80'], 'GATEWAY_PORT moves it')
  for (const [name, service] of Object.entries(services)) if (name !== 'proxy') t.notOk(service.ports, `${name} publishes no port`)
  t.same(services.gateway!.expose, ['8000'], 'the gateway is reachable inside the network on 8000')
  t.same(services.links!.expose, ['8001'], 'links on 8001')
  const gatewayEnv = serviceEnvironment(services.gateway!)
  t.equal(gatewayEnv.LINKS_URL, 'http://proxy:8001', 'the gateway forwards links to the proxy, in front of every links replica')
  t.equal(gatewayEnv.PUBLIC_URL, 'http://localhost:8000', "PUBLIC_URL defaults to the proxy's published address")
  t.equal(gatewayEnv.TRUST_PROXY, 'true', "the gateway takes the client's address from the proxy's X-Forwarded-For")
  t.equal(services['thumbnail-worker']!.deploy?.replicas, 2, 'two workers by default')

  // start order
  const oneShots = new Set(['bucket', 'migrate', 'initadmin'])
  for (const name of oneShots) t.equal(services[name]!.restart, 'no', `${name} is a one-shot`)
  for (const [name, service] of Object.entries(services)) {
    for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
      const other = services[dependency]
      t.ok(other, `${name} depends on ${dependency}, which exists`)
      if (condition === 'service_healthy') {
        const target = buildTarget(other!)
        const hasCheck = other!.healthcheck !== undefined || (target !== undefined && dockerfile.image(target).healthcheck?.none === false)
        t.ok(hasCheck, `${name} waits for ${dependency} to be healthy, and ${dependency} has a health check`)
      } else {
        t.equal(condition, 'service_completed_successfully', `${name} → ${dependency}: healthy or completed`)
        t.ok(oneShots.has(dependency), `${name} waits for the one-shot ${dependency} to complete`)
      }
    }
  }
  const dependsOn = (name: string) => Object.keys(services[name]!.depends_on ?? {})
  t.same(dependsOn('migrate'), ['postgres'])
  t.same(dependsOn('initadmin'), ['migrate'])
  t.same(dependsOn('bucket'), ['minio'])
  t.same(dependsOn('gateway').sort(), ['initadmin', 'links', 'redis'])
  t.same(dependsOn('links').sort(), ['bucket', 'migrate'])
  t.same(dependsOn('thumbnail-worker').sort(), ['bucket', 'migrate', 'redis'])
  t.same(dependsOn('proxy'), ['gateway'])

  // the services reach each other by service name
  for (const name of [...SERVICES, 'migrate', 'initadmin']) {
    const env = serviceEnvironment(services[name]!)
    t.match(env.DATABASE_URL, /^postgres:\/\/[^@]+@postgres:5432\//, `${name}: DATABASE_URL points at the postgres service`)
  }
  for (const name of SERVICES) {
    const env = serviceEnvironment(services[name]!)
    t.equal(env.S3_ENDPOINT, 'http://minio:9000', `${name}: S3_ENDPOINT points at minio`)
    if (name !== 'links') t.equal(env.REDIS_URL, 'redis://redis:6379', `${name}: REDIS_URL points at redis`)
  }
  t.equal(serviceEnvironment(services.gateway!).LINK_SIGNING_KEYS, serviceEnvironment(services.links!).LINK_SIGNING_KEYS, 'gateway and links share the link keys')
  t.equal(serviceEnvironment(services.minio!).MINIO_ROOT_USER, serviceEnvironment(services.gateway!).S3_ACCESS_KEY, 'the S3 keys are minio’s')
})

t.test('deploy/nginx/nginx.conf: the proxy sends to compose services on the ports their images listen on, on the ports compose uses, and nginx -t accepts it', async (t) => {
  const proxy = compose.services.proxy!
  t.match(proxy.image, /^nginx:\d+\.\d+\.\d+-bookworm$/, 'a pinned nginx image')
  t.ok(proxy.volumes?.includes('./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro'), 'the config is mounted read-only as nginx.conf')
  const config = readFileSync(PROXY_CONFIG_PATH, 'utf8')
  t.match(config, /^\s*resolver 127\.0\.0\.11\b/m, "Docker's DNS resolves the service names at request time, so every replica is used")

  const servers = proxyServers(config)
  const upstreams = servers.map((server) => server.upstream)
  t.same(upstreams.map((u) => u?.host).sort(), ['gateway', 'links'], 'one server for the gateways, one for the links services')
  for (const server of servers) {
    const upstream = server.upstream!
    t.ok(compose.services[upstream.host], `${upstream.host} is a compose service`)
    t.equal(String(upstream.port), dockerfile.image(upstream.host).env.PORT, `${upstream.host}: port ${upstream.port}, where its image listens`)
    t.match(server.directives.get('proxy_next_upstream'), /\berror\b/, `${upstream.host}: a replica that refuses is skipped`)
  }
  const publicServer = servers.find((server) => server.upstream?.host === 'gateway')!
  const publishedPort = Number(proxy.ports![0]!.split(':').at(-1))
  t.ok(publicServer.listen.includes(publishedPort), `the gateways' server listens on the published container port ${publishedPort}`)
  t.equal(publicServer.directives.get('proxy_request_buffering'), 'off', 'uploads stream through, never spooled by the proxy')
  t.ok(nginxSize(publicServer.directives.get('client_max_body_size') ?? '1m') >= 25 * 1024 * 1024, 'client_max_body_size is at least the 25 MiB upload limit')
  const linksServer = servers.find((server) => server.upstream?.host === 'links')!
  const linksUrl = new URL(serviceEnvironment(compose.services.gateway!).LINKS_URL!)
  t.equal(linksUrl.hostname, 'proxy', "the gateways' LINKS_URL is the proxy")
  t.ok(linksServer.listen.includes(Number(linksUrl.port)), `on the port of its links server (${linksUrl.port})`)
  t.notOk(proxy.ports!.some((p) => p.endsWith(`:${linksUrl.port}`)), 'which is not published')

  // direct uploads: presigned PUTs are made for S3_PUBLIC_ENDPOINT, the proxy, which passes only those to minio
  t.equal(serviceEnvironment(compose.services.gateway!).S3_PUBLIC_ENDPOINT, serviceEnvironment(compose.services.gateway!).PUBLIC_URL, "S3_PUBLIC_ENDPOINT defaults to the proxy's published address")
  const uploadsLocation = /location ~ \^\/\[a-z0-9\]\[a-z0-9\.-\]\+\/uploads\/direct\/ \{([^]*?)\n {4}\}/.exec(config)?.[1] ?? ''
  t.match(uploadsLocation, /limit_except PUT \{\s*deny all;\s*\}/, 'the storage path takes PUT only')
  t.match(uploadsLocation, /set \$storage_upstream minio:9000;/, 'to minio')
  t.match(uploadsLocation, /proxy_set_header Host \$http_host;/, 'with the Host the URL was signed for')
  t.ok(compose.services.minio, 'minio is a compose service')

  const check = nginxSyntaxCheck(Object.keys(compose.services), config)
  t.equal(check.status, 0, 'nginx -t accepts it', { output: check.output })
})

t.test('.env.example documents every variable the compose file reads, with its default', async (t) => {
  const variables = composeVariables()
  const example = readEnvExample()
  t.same([...example.keys()].sort(), [...variables.keys()].sort(), 'the same variables')
  for (const [name, fallback] of variables) {
    t.not(fallback, undefined, `${name} has a default in docker-compose.yml (the file works without .env)`)
    t.equal(example.get(name), fallback, `${name}: .env.example shows the default`)
  }
  const jwt = variables.get('JWT_SECRET') ?? ''
  t.ok(jwt.length >= 32, 'the development JWT_SECRET default is long enough for the gateway (32+)')
  t.match(jwt, /insecure/, 'and says it is insecure')
  t.match(variables.get('LINK_SIGNING_KEYS') ?? '', /insecure|^dev:/, 'the development link key is marked as such')
  t.match(readComposeText(), /insecure/, 'the compose file says its secret defaults are for development')
})
