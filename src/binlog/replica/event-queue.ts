/**
 * A bounded hand-off between a socket (producer) and an async consumer. When the queue holds
 * `highWaterEvents` items or `highWaterBytes` bytes it asks the producer to pause; when the consumer
 * has drained it to half of both marks it asks the producer to resume. That is how a slow consumer
 * stops the socket being read instead of letting the process buffer without limit.
 */

export interface QueueLimits {
  highWaterEvents: number;
  highWaterBytes: number;
}

export interface QueueStats {
  /** Items waiting now. */
  length: number;
  bytes: number;
  /** The most items ever waiting at once (what the backpressure test asserts on). */
  maxLength: number;
  maxBytes: number;
  /** How many times the producer was paused. */
  pauses: number;
}

export class BoundedEventQueue<T> {
  private items: T[] = [];
  private head = 0;
  private sizes: number[] = [];
  private bytes = 0;
  private paused = false;
  private failure: Error | undefined;
  private ended = false;
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: Error) => void } | undefined;
  private stats: QueueStats = { length: 0, bytes: 0, maxLength: 0, maxBytes: 0, pauses: 0 };

  constructor(
    private readonly limits: QueueLimits,
    private readonly producer: { pause(): void; resume(): void },
  ) {
    if (limits.highWaterEvents < 1 || limits.highWaterBytes < 1)
      throw new Error('queue limits must be positive');
  }

  /** Adds an item; pauses the producer when a high-water mark is reached. */
  push(item: T, size: number): void {
    if (this.ended || this.failure) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: item, done: false });
      return;
    }
    this.items.push(item);
    this.sizes.push(size);
    this.bytes += size;
    const length = this.items.length - this.head;
    if (length > this.stats.maxLength) this.stats.maxLength = length;
    if (this.bytes > this.stats.maxBytes) this.stats.maxBytes = this.bytes;
    if (!this.paused && (length >= this.limits.highWaterEvents || this.bytes >= this.limits.highWaterBytes)) {
      this.paused = true;
      this.stats.pauses++;
      this.producer.pause();
    }
  }

  /** No more items: the consumer gets the queued ones, then the end. */
  end(): void {
    this.ended = true;
    this.flushWaiter();
  }

  /** The stream failed: the consumer gets the queued items, then this error. */
  fail(err: Error): void {
    if (this.failure || this.ended) return;
    this.failure = err;
    this.flushWaiter();
  }

  /** Stops immediately: queued items are dropped and a waiting consumer sees the end. */
  abort(): void {
    this.items = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
    this.ended = true;
    this.flushWaiter();
  }

  /** The next item, waiting for one when the queue is empty. */
  next(): Promise<IteratorResult<T>> {
    if (this.head < this.items.length) {
      const item = this.items[this.head]!;
      this.bytes -= this.sizes[this.head]!;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.sizes = this.sizes.slice(this.head);
        this.head = 0;
      }
      this.maybeResume();
      return Promise.resolve({ value: item, done: false });
    }
    this.maybeResume();
    // Resuming may hand over buffered packets synchronously.
    if (this.head < this.items.length) return this.next();
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  snapshot(): QueueStats {
    return { ...this.stats, length: this.items.length - this.head, bytes: this.bytes };
  }

  private maybeResume(): void {
    if (!this.paused) return;
    const length = this.items.length - this.head;
    if (length <= this.limits.highWaterEvents / 2 && this.bytes <= this.limits.highWaterBytes / 2) {
      this.paused = false;
      this.producer.resume();
    }
  }

  private flushWaiter(): void {
    if (!this.waiter || this.head < this.items.length) return;
    const w = this.waiter;
    this.waiter = undefined;
    if (this.failure) w.reject(this.failure);
    else w.resolve({ value: undefined, done: true });
  }
}
