import type { Queue } from 'bullmq'
import { Gauge, type Registry } from 'prom-client'

export const JOB_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const

/** Resolves when the queue's Redis answers a real queue read; for readiness probes. */
export async function pingQueue(queue: Queue): Promise<void> {
  await queue.getJobCounts('waiting')
}

/** Queue counts by state, read from Redis when Prometheus scrapes (never stale, no timer). */
export function registerQueueMetrics(registry: Registry, queue: Queue): void {
  new Gauge({
    name: 'imageapi_queue_jobs',
    help: 'Thumbnail jobs by state',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      try {
        const counts = await queue.getJobCounts(...JOB_STATES)
        for (const state of JOB_STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0)
      } catch {
        // Redis away: the scrape still answers with the other metrics
      }
    },
  })
}
