import { untraced } from "./delivery-trace.js";

interface Waiting {
  user: string;
  publish: () => Promise<void>;
  since: number;
  settle: { resolve: () => void; reject: (err: unknown) => void };
  promise: Promise<void>;
}

/** How Home publishes are scheduled (see HomePublishes). */
export interface HomePublishOptions {
  /** Publishes at once. */
  concurrency: number;
  /** True while a DM (any notice's message step) is being sent or waits to be: Home publishes wait for it. */
  messagesBusy: () => boolean;
  /** A publish waits for messages at most this long, so a steady stream of DMs never starves the Home tabs. */
  maxWaitMs: number;
}

/**
 * The Home tab publishes of notices, off the DMs' way. A Home is rendered from
 * the database as it is when the publish starts, so:
 * - publishes wait while any DM is being sent or waits to be (up to
 *   `maxWaitMs`): rendering a Home costs a dozen queries, and a person waits
 *   for their DM, not for their Home tab;
 * - a person's publish that has not started yet covers every change committed
 *   before it starts, so a second notice for them joins it instead of queuing
 *   another (fifty notices for one person: one or two publishes, not fifty);
 * - one person's publishes never run side by side, so an older render never
 *   lands after a newer one.
 * A failed publish fails every notice that joined it; each is retried as usual.
 */
export class HomePublishes {
  private readonly queue: Waiting[] = [];
  private readonly running = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: HomePublishOptions) {}

  /** Publishes `user`'s Home (with `publish`) once the DMs are out, joining a publish for them not started yet. */
  publish(user: string, publish: () => Promise<void>): Promise<void> {
    const queued = this.queue.find((w) => w.user === user);
    if (queued) return queued.promise;
    let settle!: Waiting["settle"];
    const promise = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.queue.push({ user, publish, since: Date.now(), settle, promise });
    this.pump();
    return promise;
  }

  /** Starts what may start now: call when the DMs go idle. */
  pump(): void {
    const now = Date.now();
    while (this.running.size < this.opts.concurrency) {
      const overdue = this.queue[0] !== undefined && now - this.queue[0].since >= this.opts.maxWaitMs;
      if (this.opts.messagesBusy() && !overdue) break;
      const index = this.queue.findIndex((w) => !this.running.has(w.user));
      if (index < 0) break;
      const [next] = this.queue.splice(index, 1);
      if (next) this.start(next);
    }
    this.armTimer();
  }

  private start(w: Waiting): void {
    this.running.add(w.user);
    // Started from whichever delivery freed the way: its trace must not get this publish's calls.
    untraced(w.publish)
      .then(w.settle.resolve, w.settle.reject)
      .finally(() => {
        this.running.delete(w.user);
        this.pump();
      });
  }

  /** Wakes the queue when its oldest publish has waited long enough to go ahead of the DMs. */
  private armTimer(): void {
    clearTimeout(this.timer);
    const oldest = this.queue[0];
    if (!oldest) return;
    this.timer = setTimeout(() => this.pump(), Math.max(0, oldest.since + this.opts.maxWaitMs - Date.now()));
    this.timer.unref();
  }
}
