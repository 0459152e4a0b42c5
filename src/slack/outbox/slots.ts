/**
 * At most `size` holders at once; the others wait in turn (first come, first
 * served). `busy()` says whether anyone holds or waits, which is how Home
 * publishes know that a DM is under way or waiting (home-publishes.ts).
 */
export class Slots {
  private held = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly size: number,
    /** Called whenever the last holder leaves with no one waiting. */
    private readonly onIdle: () => void = () => undefined,
  ) {}

  /** Resolves once a slot is free, with the function that gives it back (call it once). */
  async acquire(): Promise<() => void> {
    if (this.held < this.size) this.held++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next in line, so `held` stays as it is.
      if (next) return next();
      this.held--;
      if (this.held === 0) this.onIdle();
    };
  }

  busy(): boolean {
    return this.held > 0 || this.waiting.length > 0;
  }
}
