import type { FastifyReply } from "fastify";
import { pruneRequestCounts, type Authenticated, type CountWindows } from "../core/tokens.js";
import type { Core } from "../core/types.js";
import type { Logger } from "../log.js";
import { httpProblem, type Problem } from "./problems.js";

const PRUNE_EVERY_MS = 3_600_000;

/** Requests allowed per fixed window. */
export interface Rate {
  max: number;
  windowMs: number;
}

/** The API's two limits: per token (API_RATE_LIMIT) and per person, all their tokens together (API_PERSON_RATE_LIMIT). */
export interface RateLimits {
  token: Rate;
  person: Rate;
}

const SETTING = { token: "API_RATE_LIMIT", person: "API_PERSON_RATE_LIMIT" } as const;
const WHOSE = { token: "per token", person: "per person (all their tokens together)" } as const;

/**
 * The rate limit, counted in PostgreSQL by the statement that authenticates
 * the token (`authenticateToken` with `windows`), so it holds across a person's
 * tokens and across replicas and costs no extra round trip. Windows are fixed
 * and aligned on the epoch: a client may send up to twice a limit across a
 * window's edge, never more.
 */
export class RateLimit {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly core: Core,
    private readonly log: Logger,
    readonly limits: RateLimits,
  ) {}

  get windows(): CountWindows {
    return { tokenMs: this.limits.token.windowMs, personMs: this.limits.person.windowMs };
  }

  /**
   * Sets the `x-ratelimit-*` headers of the tighter limit and returns the
   * problem to answer (429, with Retry-After set) when a limit is passed.
   */
  check(reply: FastifyReply, counts: Partial<NonNullable<Authenticated["counts"]>> | null): Problem | null {
    if (!counts) return null;
    // A web page session has no token: only the person's limit applies.
    const scopes = (["token", "person"] as const).flatMap((scope) => {
      const count = counts[scope];
      return count ? [{ scope, count }] : [];
    }).map(({ scope, count }) => ({
      scope,
      ...count,
      max: this.limits[scope].max,
      remaining: this.limits[scope].max - count.requests,
    }));
    const over = scopes.filter((s) => s.remaining < 0).sort((a, b) => b.resetMs - a.resetMs)[0];
    const shown = over ?? scopes.sort((a, b) => a.remaining - b.remaining)[0];
    if (shown) {
      void reply.header("x-ratelimit-limit", String(shown.max));
      void reply.header("x-ratelimit-remaining", String(Math.max(0, shown.remaining)));
      void reply.header("x-ratelimit-reset", String(Math.ceil(shown.resetMs / 1000)));
    }
    if (!over) return null;
    const retryAfter = Math.max(1, Math.ceil(over.resetMs / 1000));
    void reply.header("retry-after", String(retryAfter));
    const window = this.limits[over.scope].windowMs;
    return httpProblem(
      "rate_limited",
      `at most ${over.max} requests per ${Math.round(window / 1000)} s ${WHOSE[over.scope]} (${SETTING[over.scope]}); nothing was done: retry after ${retryAfter} s`,
      { scope: over.scope, limit: over.max, windowSeconds: Math.round(window / 1000), retryAfter },
    );
  }

  /**
   * Forgets counts of past windows, now and every hour (every replica; deleting twice is harmless),
   * and on the same timer whatever else `alsoPrune` names (the web page's sessions long ended).
   */
  start(alsoPrune: { what: string; prune: () => Promise<unknown> }[] = []): void {
    const prune = () => {
      void pruneRequestCounts(this.core).catch((err: unknown) => this.log.warn({ err }, "pruning old API request counts failed; next try in an hour"));
      for (const other of alsoPrune) void other.prune().catch((err: unknown) => this.log.warn({ err }, `pruning ${other.what} failed; next try in an hour`));
    };
    prune();
    this.timer = setInterval(prune, PRUNE_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
