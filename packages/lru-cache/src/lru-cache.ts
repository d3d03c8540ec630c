/**
 * A small LRU map bounded by entry count and by total weight (bytes for file bodies), with an
 * optional time-to-live. Map iteration order is insertion order, so re-inserting an entry keeps the
 * least recently used first. A read re-inserts only an entry that has fallen out of the newest
 * quarter: a hot entry stays among the newest without a delete and set on every read (that showed
 * in profiles of the view path), and the oldest three quarters are still evicted first.
 */
export class LruCache<K, V> {
  readonly #entries = new Map<K, { value: V; weight: number; expiresAt: number; insertedAt: number }>()
  #weight = 0
  /** Counts insertions; an entry's insertedAt says how many came after it. */
  #insertions = 0

  constructor(
    private readonly options: { maxEntries: number; maxWeight?: number; ttlMs?: number; weigh?: (value: V) => number; now?: () => number },
  ) {}

  get size(): number {
    return this.#entries.size
  }

  get weight(): number {
    return this.#weight
  }

  get(key: K): V | undefined {
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt !== Infinity && entry.expiresAt <= this.#now()) {
      this.delete(key)
      return undefined
    }
    if (this.#insertions - entry.insertedAt > this.#entries.size >> 2) {
      this.#entries.delete(key)
      entry.insertedAt = ++this.#insertions
      this.#entries.set(key, entry)
    }
    return entry.value
  }

  set(key: K, value: V): void {
    const weight = this.options.weigh?.(value) ?? 1
    const maxWeight = this.options.maxWeight ?? Infinity
    if (weight > maxWeight || this.options.maxEntries <= 0) return
    this.delete(key)
    this.#entries.set(key, { value, weight, expiresAt: this.options.ttlMs === undefined ? Infinity : this.#now() + this.options.ttlMs, insertedAt: ++this.#insertions })
    this.#weight += weight
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.options.maxEntries && this.#weight <= maxWeight) break
      this.#entries.delete(oldest)
      this.#weight -= entry.weight
    }
  }

  delete(key: K): void {
    const entry = this.#entries.get(key)
    if (!entry) return
    this.#entries.delete(key)
    this.#weight -= entry.weight
  }

  #now(): number {
    return this.options.now?.() ?? Date.now()
  }
}
