import { Counter, Histogram, type Registry } from 'prom-client'
import type { GenerateThumbnailsResult } from './generate-thumbnails.js'

export interface WorkerMetrics {
  /** Counts each height of a finished job by outcome. */
  recordThumbnails(result: GenerateThumbnailsResult): void
  recordJob(outcome: 'done' | 'failed' | 'permanent_failure', durationSeconds: number, waitSeconds?: number): void
}

export function createWorkerMetrics(registry: Registry): WorkerMetrics {
  const registers = [registry]
  const thumbnails = new Counter({
    name: 'imageapi_thumbnails_total',
    help: 'Thumbnails by height, format and outcome (ready, failed, discarded)',
    labelNames: ['height', 'format', 'outcome'] as const,
    registers,
  })
  const jobDuration = new Histogram({
    name: 'imageapi_job_duration_seconds',
    help: 'Time a thumbnail job ran, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers,
  })
  const jobWait = new Histogram({
    name: 'imageapi_job_wait_seconds',
    help: 'Time a thumbnail job waited in the queue before it started',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    registers,
  })
  return {
    recordThumbnails(result) {
      const format = result.format ?? 'unknown'
      for (const [outcome, heights] of [['ready', result.rendered], ['failed', result.failed], ['discarded', result.discarded]] as const) {
        for (const height of heights) thumbnails.inc({ height: String(height), format, outcome })
      }
      for (const [outcome, names] of [['ready', result.renditions.rendered], ['failed', result.renditions.failed], ['discarded', result.renditions.discarded]] as const) {
        for (const name of names) {
          const [height, renditionFormat] = name.split(':') as [string, string]
          thumbnails.inc({ height, format: renditionFormat, outcome })
        }
      }
    },
    recordJob(outcome, durationSeconds, waitSeconds) {
      jobDuration.observe({ outcome }, durationSeconds)
      if (waitSeconds !== undefined) jobWait.observe(waitSeconds)
    },
  }
}
