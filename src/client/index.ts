import createFetchClient, { type Client } from "openapi-fetch";
import type { paths } from "./schema.js";

export type { components, operations, paths } from "./schema.js";

/** Where the service is and whose token to use. */
export interface ClientOptions {
  /** The service's URL, like https://vmres.example.com (the /v1 is in the paths). */
  baseUrl: string;
  /** A vmres API token (vmres token create, or /vm token in Slack). */
  token: string;
  /** Another fetch (tests, proxies); default: the global one. */
  fetch?: typeof globalThis.fetch;
  /** Headers sent with every request (besides Authorization). */
  headers?: Record<string, string>;
}

/** A typed vmres API client: `client.POST("/v1/checkouts", { body: { pool: "linux" } })`. */
export type VmresClient = Client<paths>;

/**
 * The typed client over openapi-fetch: every path, parameter, body and answer
 * is typed from the API's OpenAPI document. Refusals come back as `error`, an
 * RFC 9457 problem with the core's refusal `code`.
 */
export function createClient(options: ClientOptions): VmresClient {
  return createFetchClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    headers: { ...options.headers, authorization: `Bearer ${options.token}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

/**
 * The client the web page uses: same origin, the session cookie instead of a
 * token, and the session's CSRF token (GET /web/session) on every request.
 */
export function createSessionClient(options: { csrfToken: string; baseUrl?: string; fetch?: typeof globalThis.fetch }): VmresClient {
  return createFetchClient<paths>({
    baseUrl: (options.baseUrl ?? "").replace(/\/+$/, ""),
    headers: { "x-csrf-token": options.csrfToken },
    credentials: "same-origin",
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

/** A fresh Idempotency-Key for one POST or DELETE that may be retried. */
export const idempotencyKey = (): string => globalThis.crypto.randomUUID();
