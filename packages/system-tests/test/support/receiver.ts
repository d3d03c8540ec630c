import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'

const RECEIVER = fileURLToPath(new URL('./webhook-receiver.mjs', import.meta.url))

export interface ReceivedLine {
  event: 'received'
  method: string
  path: string
  contentType: string
  id: string
  timestamp: string
  signature: string
  type: string | undefined
  /** The verified event's data. */
  data?: Record<string, unknown>
  verified: boolean
  error?: string
}

export interface Receiver {
  port: number
  received: ReceivedLine[]
  stop(signal?: NodeJS.Signals): Promise<void>
}

export async function startReceiver(t: Test, options: { secret: string; port?: number; status?: number; delayMs?: number }): Promise<Receiver> {
  const child = spawn(process.execPath, [RECEIVER], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(options.port ?? 0),
      WEBHOOK_SECRET: options.secret,
      RESPOND_STATUS: String(options.status ?? 204),
      DELAY_MS: String(options.delayMs ?? 0),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  const received: ReceivedLine[] = []
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the receiver exited (${code}) before listening`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as { event: string; port?: number }
      if (entry.event === 'listening') resolve(entry.port!)
      else received.push(entry as ReceivedLine)
    })
  })
  return {
    port,
    received,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
}

