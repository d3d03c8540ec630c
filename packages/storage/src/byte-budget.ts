/**
 * A pool of bytes that concurrent uploads borrow their part buffers from, so that the memory a
 * process spends on uploads in flight is bounded whatever their number: an upload that cannot
 * borrow waits, and stops reading its client meanwhile (TCP pushes back on the sender).
 * Waiters are served first come, first served.
 */
export class ByteBudget {
  #available: number
  readonly #waiting: Array<{ bytes: number; grant: () => void }> = []

  constructor(readonly totalBytes: number) {
    if (!Number.isSafeInteger(totalBytes) || totalBytes <= 0) throw new RangeError(`invalid byte budget: ${totalBytes}`)
    this.#available = totalBytes
  }

  get availableBytes(): number {
    return this.#available
  }

  /** Resolves once `bytes` (at most the whole budget) are lent to the caller, who must release them. */
  acquire(bytes: number): Promise<void> {
    if (bytes > this.totalBytes) throw new RangeError(`${bytes} bytes asked of a budget of ${this.totalBytes}`)
    if (this.#waiting.length === 0 && bytes <= this.#available) {
      this.#available -= bytes
      return Promise.resolve()
    }
    return new Promise((grant) => this.#waiting.push({ bytes, grant }))
  }

  release(bytes: number): void {
    this.#available += bytes
    while (this.#waiting.length > 0 && this.#waiting[0]!.bytes <= this.#available) {
      const next = this.#waiting.shift()!
      this.#available -= next.bytes
      next.grant()
    }
  }
}
