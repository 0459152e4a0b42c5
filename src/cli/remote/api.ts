import { setTimeout as sleep } from "node:timers/promises";
import type { FetchResponse } from "openapi-fetch";
import { createClient, idempotencyKey, type VmresClient } from "../../client/index.js";
import type { Refusal } from "../../core/types.js";
import { backoffDelayMs } from "../../core/backoff.js";
import { HTTP_PROBLEMS } from "../../api/problems.js";
import { EXIT, failure, type Failure } from "../failures.js";
import type { Target } from "./target.js";

/** The API as a command sees it: the typed client, and where it points (for messages). */
export interface Remote {
  client: VmresClient;
  target: Target;
}

export function remoteOf(target: Target): Remote {
  return { client: createClient({ baseUrl: target.url, token: target.token, headers: { "user-agent": "vmres-cli" } }), target };
}

/** An answer of the API in the CLI's terms: the value, a core refusal (exit 3), or a failure with its exit code. */
export type Answer<T> = { ok: true; value: T } | { ok: false; refusal: Refusal } | Failure;

/** How many times a request that did not get through is sent again (with the same Idempotency-Key when it changes something). */
const ATTEMPTS = 3;
/** A 429 is waited out and sent again when the service asks for at most this long. */
const LONGEST_RETRY_AFTER_S = 5;

/**
 * Sends one request and reads its answer. A POST or DELETE carries an
 * Idempotency-Key, so when the connection fails before the answer arrives the
 * same request is sent again safely (the service answers a repeat with the
 * first answer and changes nothing more). A GET is simply sent again.
 */
export async function call<T>(
  remote: Remote,
  send: (init: { headers: Record<string, string>; signal?: AbortSignal }) => Promise<FetchResponse<never, never, never> | { data?: T; error?: unknown; response: Response }>,
  opts: { changes: boolean; signal?: AbortSignal } = { changes: false },
): Promise<Answer<NonNullable<T>>> {
  const headers: Record<string, string> = opts.changes ? { "idempotency-key": idempotencyKey() } : {};
  let lastError: unknown;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    let answer: { data?: T; error?: unknown; response: Response };
    try {
      answer = (await send({ headers, ...(opts.signal ? { signal: opts.signal } : {}) })) as { data?: T; error?: unknown; response: Response };
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      lastError = err;
      if (attempt < ATTEMPTS) await sleep(backoffDelayMs(attempt + 1, { baseMs: 250, maxMs: 60_000, jitter: "none" }));
      continue;
    }
    const { response } = answer;
    if (response.ok) return { ok: true, value: answer.data as NonNullable<T> };
    // The first send got through and still runs (a checkout that waits): ask again with the same key.
    if (response.status === 409 && (answer.error as { code?: unknown } | undefined)?.code === "idempotency_in_progress" && attempt < ATTEMPTS) {
      await sleep(1000 * attempt);
      continue;
    }
    const retryAfter = Number(response.headers.get("retry-after"));
    if ((response.status === 429 || response.status === 503) && attempt < ATTEMPTS && retryAfter >= 0 && retryAfter <= LONGEST_RETRY_AFTER_S) {
      await sleep(Math.max(retryAfter, 0.2) * 1000);
      continue;
    }
    return problemAnswer(remote, response, answer.error);
  }
  return unreachable(remote, lastError);
}

/** The facts of a problem document that are HTTP's, not the refusal's. */
const PROBLEM_MEMBERS = new Set(["type", "title", "status", "detail", "instance"]);

/** A non-2xx answer: the core's refusal it carries, or what the CLI makes of the HTTP problem. */
function problemAnswer(remote: Remote, response: Response, body: unknown): Answer<never> {
  const problem = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const code = typeof problem["code"] === "string" ? problem["code"] : null;
  const detail = typeof problem["detail"] === "string" ? problem["detail"] : `${response.status} ${response.statusText}`;
  if (code !== null && !(code in HTTP_PROBLEMS)) {
    const refusal = Object.fromEntries(Object.entries(problem).filter(([k]) => !PROBLEM_MEMBERS.has(k))) as unknown as Refusal;
    return { ok: false, refusal };
  }
  const at = remote.target.url;
  switch (response.status) {
    case 401:
      return failure(
        EXIT.notReady,
        "token_refused",
        `the vmres API at ${at} refused the token from ${remote.target.from} (${detail}). Get a new one (\`/vm token\` in Slack, or an admin's \`vmres token create\`) and run vmres login ${at} again.`,
      );
    case 429:
      return failure(EXIT.temporary, "rate_limited", `the vmres API at ${at} limits how often this token may call (${detail}); nothing was changed. Try again in ${response.headers.get("retry-after") ?? "a"} s.`, {
        retryable: true,
        retryAfter: Number(response.headers.get("retry-after")) || null,
      });
    case 404:
      return failure(EXIT.notReady, "api_mismatch", `the service at ${at} does not know this request (${detail}): is VMRES_URL the vmres service, and is it as new as this CLI?`);
    case 502:
    case 503:
    case 504:
      return failure(EXIT.temporary, "api_unavailable", `the vmres API at ${at} is unavailable (${detail}); try again in a moment.`, { retryable: true });
  }
  if (response.status >= 500) return failure(EXIT.unexpected, code ?? "api_error", `the vmres API at ${at} failed (${detail}).`);
  // 400, 409, 413, 415, 422 from the HTTP layer: this CLI sent what the service does not take.
  return failure(EXIT.usage, code ?? "api_rejected", `the vmres API at ${at} did not take the request: ${detail}`);
}

function unreachable(remote: Remote, err: unknown): Failure {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const why = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return failure(
    EXIT.temporary,
    "api_unreachable",
    `cannot reach the vmres API at ${remote.target.url} (${why}). Try again in a moment; if it persists, check VMRES_URL (or vmres login) and that the service is running.`,
    { retryable: true },
  );
}
