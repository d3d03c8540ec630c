// s3rver ships no types; this declares only the part of its API that s3rver.ts uses.
declare module 's3rver' {
  import type { RequestListener } from 'node:http'

  interface S3rverOptions {
    silent?: boolean
    directory?: string
    configureBuckets?: Array<{ name: string }>
  }

  class S3rver {
    constructor(options?: S3rverOptions)
    /** Creates the buckets named in `configureBuckets` (kept if they exist). */
    configureBuckets(): Promise<void>
    /** The request handler, for serving from an HTTP server of one's own. */
    getMiddleware(): RequestListener
    /** The filesystem store behind the handlers. */
    readonly store: { deleteObject(bucket: string, key: string): Promise<void> }
  }

  export = S3rver
}
