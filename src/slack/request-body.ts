import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseQuery } from "node:querystring";

/**
 * Reads a request body up to `limit` bytes; null as soon as it is longer (at
 * once when its Content-Length says so). The rest is never read: the caller
 * answers with `refuseTooLarge`, which closes the connection.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  if (Number(req.headers["content-length"] ?? 0) > limit) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      // Stop here: reading on to the end would let anyone make us swallow gigabytes.
      req.off("data", onData).off("end", onEnd);
      req.pause();
      resolve(null);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on("data", onData).on("end", onEnd).on("error", reject);
  });
}

/**
 * Answers 413 to a body over the limit and closes the connection once the
 * answer is out, so the client cannot keep sending the rest (Node would
 * otherwise read it all to reuse the connection).
 */
export function refuseTooLarge(res: ServerResponse, limit: number): void {
  res.once("finish", () => res.socket?.destroy());
  res.writeHead(413, { connection: "close", "content-type": "application/json" }).end(JSON.stringify({ error: `request body too large (at most ${limit} bytes)` }));
}

/** Interactive payloads: Slack always says who acted. */
const FROM_A_USER = new Set(["block_actions", "view_submission", "view_closed", "shortcut", "message_action", "block_suggestion"]);

/**
 * What is wrong with a body's shape, read as Bolt reads it (form fields, or the
 * JSON in a form's `payload`, or a JSON body), or null when Bolt can take it.
 * Bolt 5 reads fields of the parsed body without checking it is an object: a
 * signed `payload=null` would throw inside its async handler, where nothing
 * catches it, and end the process. Bodies that are not JSON at all are left to
 * Bolt, which answers them 400 itself.
 */
export function shapeProblem(raw: Buffer, contentType: string | undefined): string | null {
  let body: unknown;
  try {
    const text = raw.toString("utf8");
    if (contentType === "application/x-www-form-urlencoded") {
      const fields = parseQuery(text);
      body = typeof fields.payload === "string" ? JSON.parse(fields.payload) : fields;
    } else {
      body = JSON.parse(text);
    }
  } catch {
    return null;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "the body is not a JSON object";
  const { type, user, view } = body as { type?: unknown; user?: unknown; view?: unknown };
  if (typeof type === "string" && FROM_A_USER.has(type)) {
    if (typeof user !== "object" || user === null || typeof (user as { id?: unknown }).id !== "string") return `a ${type} payload without user.id`;
    if (type.startsWith("view_") && (typeof view !== "object" || view === null)) return `a ${type} payload without its view`;
  }
  return null;
}
