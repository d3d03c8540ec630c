export { startRadosgw, type Radosgw, type RadosgwOptions } from './cluster.js'
export { ensureCephInstalled, CEPH_PACKAGES } from './install.js'
