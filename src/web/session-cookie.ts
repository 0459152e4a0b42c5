import type { FastifyReply, FastifyRequest } from "fastify";
import { timingSafeEqual } from "node:crypto";

/**
 * The web page's session cookie. Over HTTPS it is `__Host-vmres_session`: the
 * browser then only accepts it with `Secure`, `Path=/` and no `Domain`, so
 * another site on a sibling domain cannot plant one. Over plain HTTP (a trial
 * on localhost) it is `vmres_session`. Always `HttpOnly` (no script reads it)
 * and `SameSite=Lax` (a cross-site POST does not carry it).
 */
export const SESSION_COOKIE = "vmres_session";
export const SECURE_SESSION_COOKIE = "__Host-vmres_session";

/** The header the page sends its session's CSRF token in, on every state-changing request. */
export const CSRF_HEADER = "x-csrf-token";

/** The session secret a request's cookies carry, if any (the secure name wins). */
export function sessionSecretOf(req: FastifyRequest): string | undefined {
  return req.cookies[SECURE_SESSION_COOKIE] ?? req.cookies[SESSION_COOKIE];
}

/** Whether the page was reached over HTTPS (directly, or through a proxy TRUST_PROXY trusts). */
export function isHttps(req: FastifyRequest): boolean {
  return req.protocol === "https";
}

export function setSessionCookie(req: FastifyRequest, reply: FastifyReply, secret: string, expiresAt: Date): void {
  const secure = isHttps(req);
  void reply.setCookie(secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE, secret, { path: "/", httpOnly: true, sameSite: "lax", secure, expires: expiresAt });
}

export function clearSessionCookie(req: FastifyRequest, reply: FastifyReply): void {
  const secure = isHttps(req);
  void reply.clearCookie(secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE, { path: "/", httpOnly: true, sameSite: "lax", secure });
}

/** Methods that change nothing: they need no CSRF token. */
export const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Whether the request carries the session's CSRF token (compared in constant time). */
export function csrfMatches(req: FastifyRequest, expected: string): boolean {
  return sameToken(req.headers[CSRF_HEADER], expected);
}

/** Whether `sent` (a header's or a form field's value) is `expected`, compared in constant time. */
export function sameToken(sent: unknown, expected: string): boolean {
  if (typeof sent !== "string") return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
