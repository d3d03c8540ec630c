import t from 'tap'
import { LruCache } from '../src/index.js'

t.test('evicts the least recently used entry past maxEntries', async (t) => {
  const cache = new LruCache<string, number>({ maxEntries: 2 })
  cache.set('a', 1)
  cache.set('b', 2)
  t.equal(cache.get('a'), 1, 'a is now the most recently used')
  cache.set('c', 3)
  t.equal(cache.get('b'), undefined, 'b was evicted')
  t.equal(cache.get('a'), 1)
  t.equal(cache.get('c'), 3)
})

t.test('bounded by total weight; an entry heavier than the bound is not kept', async (t) => {
  const cache = new LruCache<string, Buffer>({ maxEntries: 100, maxWeight: 10, weigh: (b) => b.length })
  cache.set('x', Buffer.alloc(6))
  cache.set('y', Buffer.alloc(6))
  t.equal(cache.get('x'), undefined)
  t.equal(cache.weight, 6)
  cache.set('huge', Buffer.alloc(11))
  t.equal(cache.get('huge'), undefined)
  t.equal(cache.weight, 6)
  cache.set('y', Buffer.alloc(2))
  t.equal(cache.weight, 2, 'replacing an entry replaces its weight')
})

t.test('entries expire after the ttl on the injected clock', async (t) => {
  let now = 1000
  const cache = new LruCache<string, string>({ maxEntries: 10, ttlMs: 2000, now: () => now })
  cache.set('k', 'v')
  now += 1999
  t.equal(cache.get('k'), 'v')
  now += 1
  t.equal(cache.get('k'), undefined)
  t.equal(cache.size, 0)
})

t.test('an entry read now and then survives any number of insertions; the unread ones go', async (t) => {
  const cache = new LruCache<number, string>({ maxEntries: 100 })
  cache.set(-1, 'hot')
  for (let i = 0; i < 10_000; i++) {
    cache.set(i, 'cold')
    if (i % 10 === 0) t.equal(cache.get(-1), 'hot', `still there after ${i + 1} insertions`, { diagnostic: false })
  }
  t.equal(cache.get(-1), 'hot')
  t.equal(cache.size, 100)
  t.equal(cache.get(0), undefined, 'an old unread entry was evicted')
})

t.test('bounded by weight, a hot entry is not the one evicted', async (t) => {
  const cache = new LruCache<string, Buffer>({ maxEntries: 1_000, maxWeight: 100, weigh: (b) => b.length })
  cache.set('hot', Buffer.alloc(10))
  for (let i = 0; i < 500; i++) {
    cache.set(`cold-${i}`, Buffer.alloc(10))
    t.ok(cache.get('hot'), `kept after ${i + 1} other bodies`, { diagnostic: false })
  }
  t.ok(cache.weight <= 100)
})
