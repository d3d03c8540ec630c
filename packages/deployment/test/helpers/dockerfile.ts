import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DockerfileParser, type Copy, type Env, type Flag, type From, type Healthcheck, type Instruction } from 'dockerfile-ast'
import { REPO_ROOT } from '@imageapi/testkit'

export const DOCKERFILE_PATH = join(REPO_ROOT, 'Dockerfile')

export interface HealthcheckSpec {
  /** HEALTHCHECK NONE */
  none: boolean
  /** The exec form's argv (CMD ["node", "-e", ...]) */
  command: string[]
  flags: Record<string, string>
}

/** One stage as written: only its own instructions. */
export interface Stage {
  name: string
  /** The FROM image or stage name */
  base: string
  env: Record<string, string>
  workdir?: string
  user?: string
  cmd?: string[]
  entrypoint?: string[]
  healthcheck?: HealthcheckSpec
  copies: Array<{ from?: string; sources: string[]; destination: string }>
  runs: string[]
  expose: string[]
  args: string[]
}

/** A stage as the image it makes: settings inherited from the stages it is built on. */
export interface Image extends Omit<Stage, 'base'> {
  /** The external image at the root of the chain, e.g. node:20-bookworm-slim */
  baseImage: string
}

export interface ParsedDockerfile {
  text: string
  stages: Stage[]
  stage(name: string): Stage
  image(name: string): Image
}

/** The exec (JSON) form, which every CMD, ENTRYPOINT and HEALTHCHECK here must use. */
function execForm(content: string, where: string): string[] {
  let argv: unknown
  try {
    argv = JSON.parse(content)
  } catch {
    throw new Error(`${where} is not in exec (JSON array) form: ${content.slice(0, 80)}`)
  }
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) throw new Error(`${where} is not a JSON array of strings`)
  return argv as string[]
}

function flagsOf(instruction: Instruction): Record<string, string> {
  const flags = (instruction as unknown as { getFlags?: () => Flag[] }).getFlags?.() ?? []
  return Object.fromEntries(flags.map((flag) => [flag.getName(), flag.getValue() ?? '']))
}

export function parseDockerfile(text: string): ParsedDockerfile {
  const dockerfile = DockerfileParser.parse(text)
  const stages: Stage[] = []
  let stage: Stage | undefined
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword()
    if (keyword === 'FROM') {
      const from = instruction as From
      const image = from.getImage() ?? ''
      stage = { name: from.getBuildStage() ?? `#${stages.length}`, base: image, env: {}, copies: [], runs: [], expose: [], args: [] }
      stages.push(stage)
      continue
    }
    if (!stage) {
      if (keyword === 'ARG') continue
      throw new Error(`${keyword} before the first FROM`)
    }
    const where = `${keyword} in stage ${stage.name}`
    const content = instruction.getArgumentsContent() ?? ''
    switch (keyword) {
      case 'ENV':
        for (const property of (instruction as Env).getProperties()) stage.env[property.getName()] = property.getValue() ?? ''
        break
      case 'ARG':
        stage.args.push(content)
        break
      case 'WORKDIR':
        stage.workdir = content
        break
      case 'USER':
        stage.user = content
        break
      case 'CMD':
        stage.cmd = execForm(content, where)
        break
      case 'ENTRYPOINT':
        stage.entrypoint = execForm(content, where)
        break
      case 'EXPOSE':
        stage.expose.push(...content.split(/\s+/).filter(Boolean))
        break
      case 'RUN':
        stage.runs.push(content)
        break
      case 'COPY':
      case 'ADD': {
        const args = (instruction as Copy)
          .getArguments()
          .map((a) => a.getValue())
          .filter((a) => !a.startsWith('--'))
        const from = keyword === 'COPY' ? ((instruction as Copy).getFromFlag()?.getValue() ?? undefined) : undefined
        stage.copies.push({ from, sources: args.slice(0, -1), destination: args.at(-1) ?? '' })
        break
      }
      case 'HEALTHCHECK': {
        const subcommand = (instruction as Healthcheck).getSubcommand()?.getValue()?.toUpperCase()
        if (subcommand === 'NONE') stage.healthcheck = { none: true, command: [], flags: {} }
        else if (subcommand === 'CMD') {
          const json = content.slice(content.indexOf('CMD') + 3).trim()
          stage.healthcheck = { none: false, command: execForm(json, where), flags: flagsOf(instruction) }
        } else throw new Error(`${where}: expected CMD or NONE`)
        break
      }
      default:
        break
    }
  }
  const stage_ = (name: string) => {
    const found = stages.find((s) => s.name === name)
    if (!found) throw new Error(`the Dockerfile has no stage "${name}"`)
    return found
  }
  const image = (name: string): Image => {
    const own = stage_(name)
    const parent = stages.some((s) => s.name === own.base) ? image(own.base) : undefined
    const { base, ...rest } = own
    if (!parent) return { ...rest, baseImage: base }
    return {
      ...rest,
      baseImage: parent.baseImage,
      env: { ...parent.env, ...own.env },
      workdir: own.workdir ?? parent.workdir,
      user: own.user ?? parent.user,
      // Docker resets CMD when a stage sets ENTRYPOINT
      cmd: own.cmd ?? (own.entrypoint ? undefined : parent.cmd),
      entrypoint: own.entrypoint ?? parent.entrypoint,
      healthcheck: own.healthcheck ?? parent.healthcheck,
      expose: [...parent.expose, ...own.expose],
    }
  }
  return { text, stages, stage: stage_, image }
}

export function readDockerfile(path = DOCKERFILE_PATH): ParsedDockerfile {
  return parseDockerfile(readFileSync(path, 'utf8'))
}

/** The build stage's call of the build script: `sh scripts/build-service.sh <outdir> <service>...` */
export function buildScriptCall(dockerfile: ParsedDockerfile): { script: string; outDir: string; services: string[]; env: Record<string, string> } {
  const calls = dockerfile.stages.flatMap((stage) =>
    stage.runs.map((run) => ({ stage, words: run.trim().split(/\s+/) })).filter(({ words }) => words.some((w) => w.endsWith('scripts/build-service.sh'))),
  )
  if (calls.length !== 1) throw new Error(`expected one RUN of scripts/build-service.sh, found ${calls.length}`)
  const { stage, words } = calls[0]!
  const at = words.findIndex((w) => w.endsWith('scripts/build-service.sh'))
  const [outDir, ...services] = words.slice(at + 1)
  if (!outDir || services.length === 0) throw new Error('the build script is called without an outdir and services')
  return { script: words[at]!, outDir, services, env: dockerfile.image(stage.name).env }
}

/** The image targets that run a service: every stage that copies a build output in. */
export function serviceTargets(dockerfile: ParsedDockerfile): Array<{ target: string; artifact: string }> {
  const { outDir } = buildScriptCall(dockerfile)
  return dockerfile.stages.flatMap((stage) =>
    stage.copies
      .filter((copy) => copy.from !== undefined && copy.sources.length === 1 && copy.sources[0]!.startsWith(`${outDir}/`))
      .map((copy) => ({ target: stage.name, artifact: copy.sources[0]!.slice(outDir.length + 1) })),
  )
}
