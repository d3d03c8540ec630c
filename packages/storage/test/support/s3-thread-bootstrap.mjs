// A worker thread does not get the TypeScript loader the test process was started with (tsx
// registers its hooks on the thread that imports it), so the thread registers it before loading
// its TypeScript entry point.
import { register } from 'tsx/esm/api'

register()
await import('./s3-thread-main.ts')
