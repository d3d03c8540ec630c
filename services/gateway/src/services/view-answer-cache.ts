import { LruCache } from '@imageapi/lru-cache'

/** A full 200 answer of the links service, kept exactly as it came, minus what belongs to one exchange. */
export interface ViewAnswer {
  headers: Record<string, string>
  body: Buffer
  storedAtMs: number
}

interface StoredAnswer extends ViewAnswer {
  expiresAtMs: number
}

// headers of one HTTP exchange, never replayed to another request
const PER_EXCHANGE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'x-request-id', 'age'])

export interface ViewAnswerCacheOptions {
  maxBytes: number
  maxObjectBytes: number
  now: () => number
}

/**
 * Answers of the links service for hot view links, kept only as long as the links service says the
 * same URL would get the same answer (its x-imageapi-reusable-ms: what is left of its rights check,
 * or of the link's life). So the gateway answers a hot thumbnail without the hop to the links
 * service while the revocation bound stays LINK_CHECK_CACHE_MS. Bounded in bytes and per file;
 * large files always stream through.
 */
export class ViewAnswerCache {
  readonly #answers: LruCache<string, StoredAnswer>
  readonly #options: ViewAnswerCacheOptions

  constructor(options: ViewAnswerCacheOptions) {
    this.#options = options
    // each answer carries its own lifetime, given by the links service
    this.#answers = new LruCache<string, StoredAnswer>({ maxEntries: 100_000, maxWeight: options.maxBytes, weigh: (answer) => answer.body.length })
  }

  get enabled(): boolean {
    return this.#options.maxBytes > 0 && this.#options.maxObjectBytes > 0
  }

  /** Whether an answer of this length with this reuse time is worth reading into memory. */
  accepts(contentLength: number, reusableMs: number): boolean {
    return this.enabled && reusableMs > 0 && contentLength <= this.#options.maxObjectBytes && contentLength <= this.#options.maxBytes
  }

  /** `key`: the URL and the representation the request asks for (a view link may answer by Accept). */
  get(key: string): ViewAnswer | undefined {
    const answer = this.#answers.get(key)
    if (!answer) return undefined
    if (answer.expiresAtMs <= this.#options.now()) {
      this.#answers.delete(key)
      return undefined
    }
    return answer
  }

  set(key: string, headers: Record<string, string | string[] | undefined>, body: Buffer, reusableMs: number): void {
    const kept: Record<string, string> = {}
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || PER_EXCHANGE.has(name)) continue
      kept[name] = Array.isArray(value) ? value.join(', ') : value
    }
    const storedAtMs = this.#options.now()
    const answer: StoredAnswer = { headers: kept, body, storedAtMs, expiresAtMs: storedAtMs + reusableMs }
    this.#answers.set(key, answer)
  }
}
