import { startRadosgw, type Radosgw } from './cluster.js'

/** Where an S3 store answers, and the keys it accepts. */
export interface S3Store {
  endPoint: string
  accessKey: string
  secretKey: string
  region: string
}

/**
 * The variable through which the test runner (scripts/test.mjs) hands every test process the one
 * radosgw it started for the run: JSON {endPoint, accessKey, secretKey, region}.
 */
export const TEST_S3_VARIABLE = 'IMAGEAPI_TEST_S3'

let ownStore: Promise<Radosgw> | undefined

/**
 * The real S3 store tests run on: the run's shared radosgw, or, for a test file run on its own
 * (`pnpm exec tap test/x.test.ts`), a cluster of this process's own, stopped when it exits.
 */
export async function testS3Store(): Promise<S3Store> {
  const shared = process.env[TEST_S3_VARIABLE]
  if (shared) return JSON.parse(shared) as S3Store
  ownStore ??= startRadosgw().then((cluster) => {
    process.once('exit', () => cluster.stopSync())
    return cluster
  })
  const { endPoint, accessKey, secretKey, region } = await ownStore
  return { endPoint, accessKey, secretKey, region }
}
