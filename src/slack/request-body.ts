import type { IncomingMessage } from "node:http";
import { parse as parseQuery } from "node:querystring";

/** Reads a request body up to `limit` bytes; null when it is longer. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      else chunks.push(chunk);
    });
    req.on("end", () => resolve(over ? null : Buffer.concat(chunks)));
    req.on("error", reject);
  });
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
