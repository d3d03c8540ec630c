/** What a single-node cluster's configuration depends on. */
export interface CephConfInput {
  directory: string
  fsid: string
  monPort: number
  s3Port: number
  /** RAM (memstore, gone at stop) or a sparse file on disk (bluestore, kept across restarts). */
  objectStore: 'memstore' | 'bluestore'
  capacityBytes: number
}

/**
 * One monitor, one OSD and one radosgw on 127.0.0.1, one copy of everything, no cephx. Each
 * setting is here because the cluster does not start, or starts slowly, without it; see
 * shared/reference/ceph-s3.md for how each was found.
 */
export function cephConf({ directory, fsid, monPort, s3Port, objectStore, capacityBytes }: CephConfInput): string {
  const store =
    objectStore === 'memstore'
      ? [`osd objectstore = memstore`, `memstore device bytes = ${capacityBytes}`]
      : [
          `osd objectstore = bluestore`,
          // a sparse file: it takes disk only as objects are written
          `bluestore block create = true`,
          `bluestore block size = ${capacityBytes}`,
          `bluestore fsck on mkfs = false`,
        ]
  return [
    `[global]`,
    `fsid = ${fsid}`,
    // the monitor must be named in its map (monmaptool --addv a …), or clients wait 300 s for "noname-a"
    `mon host = [v2:127.0.0.1:${monPort}]`,
    `mon initial members = a`,
    `public addr = 127.0.0.1`,
    // without it the OSD listens on 0.0.0.0
    `cluster addr = 127.0.0.1`,
    `ms bind msgr1 = false`,
    `auth cluster required = none`,
    `auth service required = none`,
    `auth client required = none`,
    // radosgw asks the monitor for a "secure" session by default, which needs cephx: it fails with -13 and hangs
    `ms mon client mode = crc`,
    `osd pool default size = 1`,
    `osd pool default min size = 1`,
    `mon allow pool size one = true`,
    `osd pool default pg num = 8`,
    `osd pool default pgp num = 8`,
    `osd pool default pg autoscale mode = off`,
    `osd crush chooseleaf type = 0`,
    ...store,
    `run dir = ${directory}/run`,
    `log file = ${directory}/log/$name.log`,
    `mon cluster log file = ${directory}/log/cluster.log`,
    `admin socket = ${directory}/run/$name.asok`,
    `pid file = ${directory}/run/$name.pid`,
    ``,
    `[mon]`,
    `mon data = ${directory}/mon/$cluster-$id`,
    // radosgw creates its ~7 pools one at a time; at the default interval each takes ~1 s
    `paxos propose interval = 0.1`,
    ``,
    `[osd]`,
    `osd data = ${directory}/osd/$cluster-$id`,
    ``,
    `[client.rgw]`,
    // without tcp_nodelay, error answers and ranged GETs take an extra 40–90 ms
    `rgw frontends = beast endpoint=127.0.0.1:${s3Port} tcp_nodelay=1`,
    `rgw data = ${directory}/rgw`,
    // deleted objects give their RAM back within ~2 minutes instead of hours
    `rgw gc obj min wait = 60`,
    `rgw gc processor period = 60`,
    ``,
  ].join('\n')
}
