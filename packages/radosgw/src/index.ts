export { startRadosgw, type Radosgw, type RadosgwOptions } from './cluster.js'
export { ensureCephInstalled, CEPH_PACKAGES } from './install.js'
export { testS3Store, TEST_S3_VARIABLE, type S3Store } from './shared-store.js'
