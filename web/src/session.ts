import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { createSessionClient, type VmresClient } from "../../src/client/index.js";

/** Who is signed in, as GET /web/session says. */
export interface Session {
  person: { id: number; name: string; slackUserId: string | null; displayName: string | null };
  admin: boolean;
  /** IANA zone from Slack's profile; null: the browser's own. */
  timeZone: string | null;
  via: "token" | "oidc";
  csrfToken: string;
}

export interface PageContext {
  session: Session;
  /** The typed API client, with the session's cookie and CSRF token. */
  api: VmresClient;
  /** The zone times are shown in: the person's own, else the browser's. */
  timeZone: string;
}

export const Page = createContext<PageContext | null>(null);

export function usePage(): PageContext {
  const page = useContext(Page);
  if (!page) throw new Error("usePage outside the signed-in page");
  return page;
}

/** Reads the session; null when signed out (the caller goes to /login). */
export async function loadSession(): Promise<Session | null> {
  const res = await fetch("/web/session", { credentials: "same-origin", headers: { accept: "application/json" } });
  if (res.status === 401) return null;
  if (!res.ok) throw new Error(`GET /web/session answered ${res.status}`);
  return (await res.json()) as Session;
}

export function pageContext(session: Session): PageContext {
  return {
    session,
    api: createSessionClient({ csrfToken: session.csrfToken }),
    timeZone: session.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
}
