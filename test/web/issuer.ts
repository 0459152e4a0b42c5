import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider, { type Configuration, type KoaContextWithOIDC } from "oidc-provider";

/**
 * A real OpenID Connect issuer for the sign-in tests: the `oidc-provider`
 * package (MIT, the reference implementation openid-client is certified
 * against) on loopback, with one client registered for the service's redirect
 * URL. Who signs in is set by the test (`signInAs`): the issuer's login step
 * takes it at once, and consent is granted to the one client, so a sign-in
 * runs without a form, as for a person already signed in at their issuer.
 */
export interface TestIssuer {
  url: string;
  port: number;
  clientId: string;
  clientSecret: string;
  /** The account the next sign-in at the issuer is, with its claims. */
  signInAs(account: string, claims: Record<string, unknown>): void;
  close(): Promise<void>;
}

export const SLACK_USER_CLAIM = "https://slack.com/user_id";
/** The client the issuer knows the service by (OIDC_CLIENT_ID, OIDC_CLIENT_SECRET). */
export const TEST_CLIENT_ID = "vmres-test";
export const TEST_CLIENT_SECRET = "a-client-secret-of-the-test-issuer-0123456789";

/** Starts the issuer on `port` (0: any free one). */
export async function startIssuer(redirectUri: string, port = 0): Promise<TestIssuer> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const bound = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${bound}`;
  const accounts = new Map<string, Record<string, unknown>>();
  let next: string | null = null;
  const clientId = TEST_CLIENT_ID;
  const clientSecret = TEST_CLIENT_SECRET;

  const configuration: Configuration = {
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri], grant_types: ["authorization_code"], response_types: ["code"] }],
    claims: { openid: ["sub", SLACK_USER_CLAIM], email: ["email", "email_verified"], profile: ["name"] },
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    // Fixed keys would be nicer to read, but a generated one per run is what an issuer has: none is committed.
    findAccount: (_ctx, id) => {
      const claims = accounts.get(id);
      return claims ? { accountId: id, claims: () => ({ sub: id, ...claims }) } : undefined;
    },
    // The one client is trusted: its grant is made on first use (no consent screen).
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const client = ctx.oidc.client;
      const session = ctx.oidc.session;
      if (!client || !session?.accountId) return undefined;
      const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope("openid email profile");
      await grant.save();
      return grant;
    },
    cookies: { keys: ["test-issuer-cookie-key-0123456789"] },
  };
  const provider = new Provider(url, configuration);
  const callback = provider.callback();
  server.on("request", (req, res) => {
    if (req.url?.startsWith("/interaction/")) {
      // The login step: the account the test chose, at once. A fresh login each time (no issuer session kept).
      const accountId = next;
      if (accountId === null) {
        res.writeHead(500).end("the test set no account (signInAs)");
        return;
      }
      provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false }).catch((error: unknown) => {
        res.writeHead(500).end(String(error));
      });
      return;
    }
    callback(req, res);
  });

  return {
    url,
    port: bound,
    clientId,
    clientSecret,
    signInAs(account, claims) {
      accounts.set(account, claims);
      next = account;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A browser's cookies, as far as these tests need them: name=value per host
 * and port, sent back on every request to it (paths and expiry ignored).
 */
export class CookieJar {
  private readonly hosts = new Map<string, Map<string, string>>();

  header(url: string): string {
    return [...(this.hosts.get(new URL(url).host) ?? new Map<string, string>()).entries()].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  take(url: string, res: Response): void {
    const host = new URL(url).host;
    const cookies = this.hosts.get(host) ?? new Map<string, string>();
    this.hosts.set(host, cookies);
    for (const line of res.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split("=")[1] ?? "") < Date.now()));
      if (value === "" || expired) cookies.delete(name);
      else cookies.set(name, value);
    }
  }

  get(url: string, name: string): string | undefined {
    return this.hosts.get(new URL(url).host)?.get(name);
  }

  set(url: string, name: string, value: string): void {
    const host = new URL(url).host;
    const cookies = this.hosts.get(host) ?? new Map<string, string>();
    this.hosts.set(host, cookies);
    cookies.set(name, value);
  }
}

/** One GET with the jar, not following redirects. */
export async function get(jar: CookieJar, url: string): Promise<Response> {
  const res = await fetch(url, { redirect: "manual", headers: { cookie: jar.header(url) } });
  jar.take(url, res);
  return res;
}

/**
 * Follows redirects from `url` with the jar until `stop` says so of a URL (not
 * requested then), or until an answer that is no redirect. Returns the last URL and answer.
 */
export async function follow(jar: CookieJar, url: string, stop: (url: string) => boolean = () => false): Promise<{ url: string; res: Response | null }> {
  let at = url;
  for (let hops = 0; hops < 20; hops++) {
    if (hops > 0 && stop(at)) return { url: at, res: null };
    const res = await get(jar, at);
    const location = res.headers.get("location");
    if (res.status < 300 || res.status >= 400 || !location) return { url: at, res };
    await res.arrayBuffer();
    at = new URL(location, at).href;
  }
  throw new Error(`more than 20 redirects from ${url}`);
}
