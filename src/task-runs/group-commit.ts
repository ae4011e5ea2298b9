import { TooManyRequestsError } from '../common/errors/domain.error';

/** The outcome of one item of a group: its own value or its own error (never its neighbours'). */
export type Outcome<O> = { ok: true; value: O } | { ok: false; error: unknown };

export interface GroupCommitOptions<I, O> {
  /** Items per group at most. */
  maxBatch: number;
  /** Groups being written at once at most; while they are busy, new items gather into the next group. */
  maxInFlight: number;
  /** Items waiting at most; past it `submit` rejects with 429 (a bounded buffer). */
  maxQueued: number;
  /** Writes one group; answers one outcome per item, in order. A rejection fails every item of the group. */
  run: (items: I[]) => Promise<Outcome<O>[]>;
  /** Items with the same key never share a group (the later one waits for the next group). */
  key?: (item: I) => string;
  /** Name for the 429 message. */
  name: string;
}

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit across requests (docs/performance.md): items submitted while fewer than `maxInFlight` groups are
 * being written go out at the next turn of the event loop (`setImmediate`: everything that arrived in the same
 * I/O phase shares a group); while every slot is busy they gather, up to `maxBatch` per group. Under light load a
 * request waits for nothing; under heavy load one transaction carries many requests.
 */
export class GroupCommit<I, O> {
  private queue: Waiting<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** Groups written since start, and items in them (tests, bench). */
  groups = 0;
  items = 0;

  constructor(private readonly options: GroupCommitOptions<I, O>) {}

  submit(item: I): Promise<O> {
    if (this.queue.length >= this.options.maxQueued) {
      return Promise.reject(
        new TooManyRequestsError(`Too many ${this.options.name} waiting to be written; try again later.`, 1),
      );
    }
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight || !this.queue.length) {
      return;
    }
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length) {
      const group = this.take();
      this.inFlight += 1;
      this.groups += 1;
      this.items += group.length;
      void this.write(group).finally(() => {
        this.inFlight -= 1;
        this.schedule();
      });
    }
  }

  /** The next group: in arrival order, distinct keys, at most maxBatch; the rest stays queued in order. */
  private take(): Waiting<I, O>[] {
    const key = this.options.key;
    if (!key) {
      return this.queue.splice(0, this.options.maxBatch);
    }
    const group: Waiting<I, O>[] = [];
    const rest: Waiting<I, O>[] = [];
    const keys = new Set<string>();
    for (const w of this.queue) {
      const k = key(w.item);
      if (group.length < this.options.maxBatch && !keys.has(k)) {
        keys.add(k);
        group.push(w);
      } else {
        rest.push(w);
      }
    }
    this.queue = rest;
    return group;
  }

  private async write(group: Waiting<I, O>[]): Promise<void> {
    try {
      const outcomes = await this.options.run(group.map((w) => w.item));
      group.forEach((w, i) => {
        const o = outcomes[i];
        if (!o) {
          w.reject(new Error('group commit: no outcome for an item'));
        } else if (o.ok) {
          w.resolve(o.value);
        } else {
          w.reject(o.error);
        }
      });
    } catch (err) {
      for (const w of group) {
        w.reject(err);
      }
    }
  }
}
