import { BlockList, isIP } from "node:net";
import type { IncomingMessage } from "node:http";

/**
 * Which peers are reverse proxies whose `X-Forwarded-For` is believed, in
 * Fastify's `trustProxy` sense: `false` none (the default), `true` every hop,
 * a number the closest N hops, or a list of addresses and CIDR ranges (and the
 * names loopback, linklocal, uniquelocal).
 */
export type TrustProxy = boolean | number | string[];

/** Named ranges, as Fastify's proxy-addr names them. */
const NAMED: Record<string, string[]> = {
  loopback: ["127.0.0.1/8", "::1/128"],
  linklocal: ["169.254.0.0/16", "fe80::/10"],
  uniquelocal: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
};

/** TRUST_PROXY's text as a TrustProxy, or what is wrong with it (for the configuration error). */
export function parseTrustProxy(text: string): TrustProxy | { problem: string } {
  const value = text.trim();
  if (value === "" || value === "false") return false;
  if (value === "true") return true;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return hops <= 100 ? hops : { problem: "a hop count is at most 100" };
  }
  const entries = value.split(",").map((e) => e.trim()).filter(Boolean);
  for (const entry of entries) {
    if (!(entry in NAMED) && compileEntry(new BlockList(), entry) !== null) {
      return { problem: `"${entry}" is not an IP address, a CIDR range (10.0.0.0/8) or one of loopback, linklocal, uniquelocal` };
    }
  }
  return entries;
}

/** Adds one address or range to `list`; an error text when it is neither. */
function compileEntry(list: BlockList, entry: string): string | null {
  const [address = "", bits, ...rest] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return "not an address";
  const type = family === 4 ? "ipv4" : "ipv6";
  if (bits === undefined) {
    list.addAddress(address, type);
    return null;
  }
  const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
  if (prefix < 0 || prefix > (family === 4 ? 32 : 128)) return "bad prefix";
  list.addSubnet(address, prefix, type);
  return null;
}

/** Whether the address at `hop` (0: the socket's peer, 1: the last X-Forwarded-For entry, …) is a trusted proxy. */
export type HopTrust = (address: string, hop: number) => boolean;

/** Compiled lists, so a request does not rebuild its TRUST_PROXY ranges. */
const compiled = new WeakMap<string[], HopTrust>();

export function hopTrust(trust: TrustProxy): HopTrust {
  if (trust === true) return () => true;
  if (trust === false) return () => false;
  if (typeof trust === "number") return (_address, hop) => hop < trust;
  const known = compiled.get(trust);
  if (known) return known;
  const list = new BlockList();
  for (const entry of trust) for (const e of NAMED[entry] ?? [entry]) compileEntry(list, e);
  const check: HopTrust = (address) => {
    const plain = unmapped(address);
    const family = isIP(plain);
    return family !== 0 && list.check(plain, family === 4 ? "ipv4" : "ipv6");
  };
  compiled.set(trust, check);
  return check;
}

/** `::ffff:127.0.0.1` (an IPv4 peer on a dual-stack socket) as `127.0.0.1`. */
function unmapped(address: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
}

const isLoopback = (address: string) => address === "::1" || /^127\./.test(unmapped(address));

type PeerRequest = Pick<IncomingMessage, "headers"> & { socket: { remoteAddress?: string | undefined } };

/**
 * A request from a person or program on this machine itself, which may read
 * /healthz's details and /metrics without a token.
 *
 * Without trusted proxies: a loopback peer that names nobody it relays for. A
 * reverse proxy on this host connects from loopback too; one that does not
 * send X-Forwarded-For cannot be told apart from a local caller, which is why
 * such a setup must set TRUST_PROXY.
 *
 * With trusted proxies: the client is found as Fastify finds it (X-Forwarded-For
 * read from the right, skipping trusted hops), and a request whose peer is a
 * trusted proxy but that carries no X-Forwarded-For is not local: the proxy did
 * not say whom it relays for, so it may be anyone.
 */
export function isLocalRequest(req: PeerRequest, trust: TrustProxy = false): boolean {
  const peer = req.socket.remoteAddress ?? "";
  const trusted = hopTrust(trust);
  if (!trusted(peer, 0)) {
    const relayed = req.headers["x-forwarded-for"] !== undefined || req.headers["forwarded"] !== undefined || req.headers["x-real-ip"] !== undefined;
    return isLoopback(peer) && !relayed;
  }
  const header = req.headers["x-forwarded-for"];
  const forwarded = (Array.isArray(header) ? header.join(",") : (header ?? "")).split(",").map((a) => a.trim()).filter(Boolean);
  if (forwarded.length === 0) return false;
  // [peer, last forwarded, …, first forwarded]: the client is the first hop that is not a trusted proxy (or the first forwarded).
  const hops = [peer, ...forwarded.reverse()];
  let i = 0;
  while (i < hops.length - 1 && trusted(hops[i] ?? "", i)) i++;
  return isLoopback(hops[i] ?? "");
}
