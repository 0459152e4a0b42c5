/** One Server-Sent Event as a page's EventSource would see it. */
export interface SentEvent {
  event: string;
  data: string;
}

/**
 * GET /web/events read as a browser would, over real HTTP: events as they
 * arrive, comments (`: …`) kept apart, and a wait for an event that matches.
 */
export class EventStreamReader {
  readonly events: SentEvent[] = [];
  readonly comments: string[] = [];
  ended = false;
  private buffer = "";
  private readonly wakers = new Set<() => void>();
  private readonly abort = new AbortController();

  /** The answer's status: 200 when the stream opened. */
  status = 0;

  private constructor() {}

  static async open(url: string, cookie: string): Promise<EventStreamReader> {
    const opened = new EventStreamReader();
    const res = await fetch(`${url}/web/events`, { headers: { cookie, accept: "text/event-stream" }, signal: opened.abort.signal });
    opened.status = res.status;
    if (!res.body || res.status !== 200) {
      await res.body?.cancel();
      opened.ended = true;
      return opened;
    }
    void opened.pump(res.body);
    await opened.until(() => opened.comments.includes("connected"));
    return opened;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of body) {
        this.buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = this.buffer.indexOf("\n\n")) >= 0) {
          this.take(this.buffer.slice(0, end));
          this.buffer = this.buffer.slice(end + 2);
        }
        this.wake();
      }
    } catch {
      // aborted by close()
    }
    this.ended = true;
    this.wake();
  }

  private take(block: string): void {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) this.comments.push(line.slice(1).trim());
      else if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trim());
    }
    if (data.length > 0) this.events.push({ event, data: data.join("\n") });
  }

  private wake(): void {
    for (const w of this.wakers) w();
  }

  /** Resolves once `test` holds (checked at each arrival); rejects if the stream ends first. */
  until(test: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (test()) {
          this.wakers.delete(check);
          resolve();
        } else if (this.ended) {
          this.wakers.delete(check);
          reject(new Error(`the stream ended first; events: ${JSON.stringify(this.events)}`));
        }
      };
      this.wakers.add(check);
      check();
    });
  }

  /** Waits for a `change` event after the first `from` events whose data matches. */
  async change(match: { kind: string; pool?: string | null }, from = 0): Promise<SentEvent> {
    const found = () =>
      this.events.slice(from).find((e) => {
        if (e.event !== "change") return false;
        const c = JSON.parse(e.data) as { kind: string; pool: string | null };
        return c.kind === match.kind && (match.pool === undefined || c.pool === match.pool);
      });
    await this.until(() => found() !== undefined);
    return found() as SentEvent;
  }

  /** Resolves once the server has ended the stream. */
  closedByServer(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.ended) {
          this.wakers.delete(check);
          resolve();
        }
      };
      this.wakers.add(check);
      check();
    });
  }

  close(): void {
    this.abort.abort();
  }
}
