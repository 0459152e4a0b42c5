import type { FastifyReply, FastifyRequest } from "fastify";
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { isHttps } from "./session-cookie.js";

/**
 * What a sign-in with OpenID Connect must remember between its start and its
 * callback (PKCE's code verifier, `state`, `nonce`, where to go after), kept
 * in a short-lived cookie of the browser that started it, sealed with
 * AES-256-GCM under a key derived from the client secret (every replica has
 * it, so any replica takes the callback).
 *
 * Why a cookie and not a table: `/auth/oidc/start` is open to anyone, so a
 * row per start would let anybody fill the database; the cookie binds the
 * callback to the browser that started it (what `state` is for), and a sign-in
 * that is refused leaves nothing behind. A replayed callback is refused by the
 * issuer (an authorization code is good once), and the cookie is cleared at the
 * first callback. `HttpOnly` and `SameSite=Lax`: the issuer's redirect back is
 * a top-level GET, which carries it; a script never reads it.
 */
export const LOGIN_COOKIE = "vmres_oidc";
export const SECURE_LOGIN_COOKIE = "__Host-vmres_oidc";

/** How long a started sign-in may take at the issuer (typing a password, a second factor). */
export const LOGIN_LIFETIME_MS = 10 * 60_000;

/** One sign-in in progress. */
export interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** The local path to open once signed in. */
  next: string;
  /** Epoch ms after which the callback is refused. */
  expiresAt: number;
}

const keyOf = (clientSecret: string): Buffer => Buffer.from(hkdfSync("sha256", clientSecret, "vmres", "vmres oidc login cookie v1", 32));

/** The cookie's value: iv.ciphertext.tag, base64url. */
export function sealLogin(clientSecret: string, login: PendingLogin): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyOf(clientSecret), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(login), "utf8"), cipher.final()]);
  return [iv, body, cipher.getAuthTag()].map((b) => b.toString("base64url")).join(".");
}

/** The sign-in a cookie holds, or null when it is not one of ours, was altered, or expired. */
export function openLogin(clientSecret: string, value: string | undefined, now = Date.now()): PendingLogin | null {
  if (!value || value.length > 4096) return null;
  const parts = value.split(".");
  if (parts.length !== 3) return null;
  const [iv, body, tag] = parts.map((p) => Buffer.from(p, "base64url")) as [Buffer, Buffer, Buffer];
  if (iv.length !== 12 || tag.length !== 16) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", keyOf(clientSecret), iv);
    decipher.setAuthTag(tag);
    const login = JSON.parse(Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8")) as PendingLogin;
    return typeof login.expiresAt === "number" && login.expiresAt > now ? login : null;
  } catch {
    // Altered, or sealed under another client secret (the secret changed since the start).
    return null;
  }
}

export function loginCookieOf(req: FastifyRequest): string | undefined {
  return req.cookies[SECURE_LOGIN_COOKIE] ?? req.cookies[LOGIN_COOKIE];
}

export function setLoginCookie(req: FastifyRequest, reply: FastifyReply, value: string): void {
  const secure = isHttps(req);
  void reply.setCookie(secure ? SECURE_LOGIN_COOKIE : LOGIN_COOKIE, value, { path: "/", httpOnly: true, sameSite: "lax", secure, maxAge: LOGIN_LIFETIME_MS / 1000 });
}

export function clearLoginCookie(req: FastifyRequest, reply: FastifyReply): void {
  const secure = isHttps(req);
  void reply.clearCookie(secure ? SECURE_LOGIN_COOKIE : LOGIN_COOKIE, { path: "/", httpOnly: true, sameSite: "lax", secure });
}

