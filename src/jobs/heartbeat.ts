/**
 * Keeps a claim fresh while its job runs (every quarter of the claim timeout),
 * so the timeout can be short and a dead process's job is taken over soon.
 * Renewals and the job's own guarded writes go one after another (`exclusive`),
 * and `stop()` waits for a renewal in flight, so every write under the claim
 * compares the claim time the database holds. A renewal that finds the claim
 * gone calls `lost`; one that fails (the database away) is tried again at the
 * next beat.
 */
export class Heartbeat {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(renew: (() => Promise<boolean>) | null, claimTimeoutMs: number, lost: () => void) {
    if (!renew) return;
    this.timer = setInterval(() => {
      this.chain = this.chain
        .then(async () => {
          if (this.stopped) return;
          if (!(await renew())) lost();
        })
        .catch(() => undefined);
    }, Math.max(50, Math.floor(claimTimeoutMs / 4)));
  }

  exclusive<T>(write: () => Promise<T>): Promise<T> {
    const done = this.chain.then(write);
    this.chain = done.catch(() => undefined);
    return done;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.chain;
  }
}
