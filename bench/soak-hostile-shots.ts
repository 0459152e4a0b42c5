/**
 * Building blocks of the hostile inputs: raw HTTP requests to the service,
 * signed (or mis-signed) the way a forger would, and what a hostile input is.
 */
import { createHmac } from "node:crypto";
import type { SlackRequest } from "../test/helpers/slack-requests.js";
import { SECRET } from "./soak-service.js";

/** One HTTP request exactly as it goes on the wire; `body: "2MB-stream"` is sent chunked, with no length. */
export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | { stream: number };
}

/** A request and where its reply (if any) goes. */
export interface Shot {
  request: RawRequest;
  responseId?: string;
}

/** What the soak knows when it builds the inputs (built just before sending, so timestamps are fresh). */
export interface HostileSetup {
  attacker: string;
  pool: string;
  /** Someone else's checkout, for the attacker to aim at. */
  victim: { user: string; vm: string; atMs: number };
  /** A VM nobody holds. */
  freeVm: string;
  /** For the click replay: a VM its user holds, and the checkout time. */
  clickReplay: { user: string; vm: string; atMs: number };
  /** Users who hold nothing, one per replay: their first delivery may act. */
  replayUsers: [string, string, string, string, string];
  responseUrl(): { id: string; url: string };
}

/** One hostile input: a name, its family, and the requests it sends. */
export interface HostileCase {
  name: string;
  category: string;
  /** A replay: the first delivery may change state, once; the others must not. */
  replay?: boolean;
  /** Send all requests at once (a concurrent replay) instead of one after another. */
  together?: boolean;
  make(setup: HostileSetup): Shot[];
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Slack's v0 signature over any timestamp text, so malformed timestamps can be signed too. */
export function sign(secret: string, timestamp: string, body: string): string {
  return `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
}

/** How to mis-sign or alter a request; by default it is signed correctly, now. */
export interface SignOptions {
  timestamp?: string | number;
  secret?: string;
  /** Replace the signature (given the correct one). */
  signature?: (good: string) => string;
  /** Headers to leave out (e.g. x-slack-signature). */
  omit?: string[];
  headers?: Record<string, string>;
  /** Sign `request.rawBody` but send this instead. */
  sendBody?: string;
  method?: string;
  path?: string;
}

/** A Slack request as a RawRequest, signed (or not) as the options say. */
export function signed(request: Pick<SlackRequest, "rawBody" | "contentType">, opts: SignOptions = {}): RawRequest {
  const timestamp = String(opts.timestamp ?? nowSeconds());
  const good = sign(opts.secret ?? SECRET, timestamp, request.rawBody);
  const headers: Record<string, string> = {
    "content-type": request.contentType,
    "x-slack-request-timestamp": timestamp,
    "x-slack-signature": opts.signature ? opts.signature(good) : good,
    ...opts.headers,
  };
  for (const name of opts.omit ?? []) delete headers[name];
  return { method: opts.method ?? "POST", path: opts.path ?? "/slack/events", headers, body: opts.sendBody ?? request.rawBody };
}

/** A form body from fields, as Slack encodes interaction payloads. */
export function formBody(fields: Record<string, string>): Pick<SlackRequest, "rawBody" | "contentType"> {
  return { contentType: "application/x-www-form-urlencoded", rawBody: new URLSearchParams(fields).toString() };
}

/** An interaction whose `payload` field is whatever text the forger chose. */
export function payloadBody(payload: string): Pick<SlackRequest, "rawBody" | "contentType"> {
  return formBody({ payload });
}

/** What the service answered, or how the connection ended. */
export interface Answer {
  status: number | string;
  body: string;
}

/** Sends a RawRequest with fetch; a dropped connection is an answer too ("conn: …"). */
export async function sendRaw(baseUrl: string, request: RawRequest): Promise<Answer> {
  const init: RequestInit & { duplex?: "half" } = { method: request.method, headers: request.headers, signal: AbortSignal.timeout(15_000) };
  if (request.method !== "GET" && request.method !== "HEAD") {
    if (typeof request.body === "string") {
      init.body = request.body;
    } else {
      // No content-length: the service cannot refuse it up front and must stop reading at its limit.
      const total = request.body.stream;
      const chunk = "a".repeat(64 * 1024);
      let sent = 0;
      init.body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= total) return controller.close();
          sent += chunk.length;
          controller.enqueue(new TextEncoder().encode(chunk));
        },
      });
      init.duplex = "half";
    }
  }
  try {
    const response = await fetch(baseUrl + request.path, init);
    return { status: response.status, body: (await response.text()).slice(0, 500) };
  } catch (err) {
    const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
    return { status: `conn: ${String(cause?.code ?? cause?.message ?? (err as Error).message)}`, body: "" };
  }
}

/** Everything a forger put in an input, decoded, to recognise their mentions if they come back. */
export function inputText(request: RawRequest): string {
  if (typeof request.body !== "string") return "";
  let decoded = request.body;
  try {
    decoded = decodeURIComponent(request.body.replace(/\+/g, " "));
  } catch {
    // Not URL-encoded: the raw text is what the service saw.
  }
  return `${request.body}\n${decoded}`;
}

/** Live mentions and broadcasts in Slack text: <!channel>, <!here>, <!everyone>, <!subteam^…>, <@U…>. */
export function liveMentions(text: string): string[] {
  return text.match(/<!(?:channel|here|everyone)(?:\|[^>]*)?>|<!subteam\^[^>]*>|<@[UW][A-Z0-9]+(?:\|[^>]*)?>/g) ?? [];
}
