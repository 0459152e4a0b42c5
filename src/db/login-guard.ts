import { once } from "node:events";
import { createConnection, isIP, type Socket } from "node:net";
import { Duplex } from "node:stream";

/** A way a server may ask a client to log in, named as libpq's `require_auth` names them. */
export type LoginMethod = "scram-sha-256" | "md5" | "password" | "none";

/** How a connection may log in: the requests it answers, its TLS, and what to tell the operator on a refusal. */
export interface LoginPolicy {
  methods: ReadonlySet<LoginMethod>;
  tls: "disable" | "prefer" | "require" | "verify-full";
  hint: string;
}

/** The server asked to log in a way the policy refuses; the connection was closed before the password was used. */
export class LoginRefusedError extends Error {
  readonly code = "db_login_refused";
}

/** What postgres.js hands its `socket` function (its options; `connect_timeout` in seconds). */
interface SocketOptions {
  host: string[];
  port: number[];
  path: string | false | undefined;
  connect_timeout?: number | undefined;
}

type Target = { path: string } | { host: string; port: number };

/** postgres.js reads `host` and `port` off its socket for its error messages. */
type Connection = (Socket | Duplex) & { host?: string; port?: number };

/**
 * postgres.js options that guard every connection's login.
 * postgres.js answers whatever the server asks for (the password in clear, its
 * md5, or SCRAM) and takes an AuthenticationOk that skips SCRAM's server proof;
 * it has no setting to refuse, and a `password` function is called for every
 * kind of request without being told which. Its documented `socket` option (a function
 * returning a duplex stream, or a promise of one: README "Custom socket") is the supported
 * place to stand between it and the server. TLS is done here, before postgres.js gets the
 * socket, so the login can still be read: postgres.js itself gets `ssl: false`.
 *
 * postgres.js gets the socket itself (net.Socket, or the TLSSocket over it), with a watch on
 * its incoming messages that lasts only until the server has logged us in (`watchLogin`).
 * Until 2026-12 a Duplex stood between the two for the connection's whole life, and every
 * statement's bytes went through its stream machinery twice (issue 18's core bench).
 */
export function guardedConnections(policy: LoginPolicy): { ssl: false; socket: (options: SocketOptions) => Promise<Connection> } {
  let attempts = 0;
  return {
    ssl: false,
    async socket(options) {
      // With a socket function postgres.js no longer walks a multi-host list itself.
      const i = attempts++ % Math.max(1, options.host.length);
      const target: Target = options.path ? { path: options.path } : { host: options.host[i] ?? "localhost", port: options.port[i] ?? 5432 };
      // postgres.js starts its connect_timeout only once it has the socket: this covers the wait for it.
      // As postgres.js reads it: seconds, and none when unset or 0.
      const timeoutMs = options.connect_timeout ? options.connect_timeout * 1000 : null;
      let transport: Socket;
      try {
        transport = await openTransport(target, policy.tls, timeoutMs);
      } catch (err) {
        return failedConnection(err instanceof Error ? err : new Error(String(err)), target);
      }
      return watchLogin(transport, policy, target);
    },
  };
}

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
/** Nothing a server sends before logging us in comes near this; more is not PostgreSQL talking. */
const MAX_LOGIN_MESSAGE = 1 << 20;

/**
 * Lets the server's messages reach postgres.js only as far as the policy allows until the server
 * has logged us in; then takes itself out of the socket, so the rest of the connection's life is
 * the plain socket. A refused request is never passed on, so postgres.js never answers it and
 * the password is never used. It watches `emit("data")` rather than reading the socket itself:
 * postgres.js listens on the socket directly, and a watch that removes itself leaves no hop behind.
 */
function watchLogin(transport: Socket, policy: LoginPolicy, target: Target): Connection {
  const steps = new LoginSteps(policy);
  let unread = Buffer.alloc(0);
  const emit = transport.emit as (this: Socket, event: string | symbol, ...args: unknown[]) => boolean;
  const done = () => Reflect.deleteProperty(transport, "emit"); // back to net.Socket's own emit
  const pass = (bytes: Buffer) => emit.call(transport, "data", bytes);
  transport.emit = function (this: Socket, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== "data") return emit.call(this, event, ...args);
    unread = Buffer.concat([unread, args[0] as Buffer]);
    while (!steps.loggedIn() && unread.length >= 5) {
      const size = unread.readUInt32BE(1) + 1;
      if (size < 5 || size > MAX_LOGIN_MESSAGE) return refuse(transport, policy, target, "sent something that is not a PostgreSQL message");
      if (unread.length < size) return true;
      const message = unread.subarray(0, size);
      unread = unread.subarray(size);
      const refusal = steps.check(message);
      if (refusal) return refuse(transport, policy, target, refusal);
      pass(message);
    }
    if (steps.loggedIn()) {
      done();
      if (unread.length > 0) pass(unread);
      unread = Buffer.alloc(0);
    }
    return true;
  } as Socket["emit"];
  return Object.assign(transport, hostAndPort(target));
}

function hostAndPort(target: Target): { host?: string; port?: number } {
  return "host" in target ? { host: target.host, port: target.port } : {};
}

function refuse(transport: Socket, policy: LoginPolicy, target: Target, reason: string): boolean {
  const where = "path" in target ? target.path : `${target.host}:${target.port}`;
  const allowed = [...policy.methods].join(", ");
  transport.destroy(
    new LoginRefusedError(
      `refused to log in to ${where}: the server ${reason}, and this connection allows only ${allowed}; the password was not sent. ${policy.hint}`,
    ),
  );
  return true;
}

/**
 * The stand-in postgres.js gets when no connection could be opened: it fails with that error,
 * and its "close" says an error closed it, as net.Socket's does (postgres.js backs off its
 * reconnects only then; without it, the LISTEN connection retried every 10 ms while the server
 * was down, a hundred logins a second per process).
 *
 * It closes only once postgres.js has written to it. postgres.js (3.4.9) sends small writes from
 * a setImmediate, and its "close" handler cancels that immediate without forgetting it: no write
 * is ever scheduled again on that connection, so every later login on it sits silent until
 * connect_timeout (30 s), again and again. It writes its StartupMessage as soon as it has the
 * socket, so a stand-in closed before that write ran would leave the connection so, every time.
 */
function failedConnection(err: Error, target: Target): Connection {
  let failed = false;
  const fail = () => {
    if (failed) return;
    failed = true;
    stream.destroy(err);
  };
  const stream = new Duplex({
    allowHalfOpen: false,
    read() {},
    write(_chunk, _encoding, written) {
      written();
      fail();
    },
    final(ended) {
      ended();
      fail();
    },
  });
  // postgres.js writes at once; should it not, the stand-in fails all the same rather than never.
  setTimeout(fail, 1000).unref();
  const emit = stream.emit as (this: Duplex, event: string | symbol, ...args: unknown[]) => boolean;
  stream.emit = function (this: Duplex, event: string | symbol, ...args: unknown[]): boolean {
    return event === "close" && args.length === 0 ? emit.call(this, "close", true) : emit.call(this, event, ...args);
  } as Duplex["emit"];
  return Object.assign(stream, hostAndPort(target));
}

/** Where a login stands, and which of the server's requests the policy lets postgres.js answer. */
class LoginSteps {
  readonly #methods: ReadonlySet<LoginMethod>;
  #step: "start" | "password" | "sasl" | "sasl-continue" | "sasl-final" | "in" = "start";

  constructor(policy: LoginPolicy) {
    this.#methods = policy.methods;
  }

  /** A method, not a comparison inline: TypeScript would keep #step narrowed across check(). */
  loggedIn(): boolean {
    return this.#step === "in";
  }

  /** Why the policy refuses this message from the server, or null to pass it on. */
  check(message: Buffer): string | null {
    const kind = String.fromCharCode(message[0] ?? 0);
    if (kind === "E" || kind === "N" || kind === "v") return null; // error, notice, protocol version
    if (kind !== "R" || message.length < 9) return `sent a "${kind}" message before logging us in`;
    const methods = this.#methods;
    const request = message.readUInt32BE(5);
    const first = this.#step === "start";
    switch (request) {
      case 0: // AuthenticationOk
        if (first && !methods.has("none")) return "let us in without a password, so it never proved it knows it";
        if (this.#step === "sasl" || this.#step === "sasl-continue") return "ended SCRAM without proving it knows the password";
        this.#step = "in";
        return null;
      case 3: // AuthenticationCleartextPassword
        if (!methods.has("password")) return "asked for the password in clear text";
        return first ? ((this.#step = "password"), null) : "asked for a password twice";
      case 5: // AuthenticationMD5Password
        if (!methods.has("md5")) return "asked for an MD5 hash of the password";
        return first ? ((this.#step = "password"), null) : "asked for a password twice";
      case 10: {
        // AuthenticationSASL: postgres.js answers with SCRAM-SHA-256 whatever is offered.
        const offered = message.subarray(9).toString("utf8").split("\0").filter(Boolean);
        if (!methods.has("scram-sha-256")) return "asked for SCRAM";
        if (!offered.includes("SCRAM-SHA-256")) return `offered ${offered.join(", ") || "no SASL mechanism"}, not SCRAM-SHA-256`;
        return first ? ((this.#step = "sasl"), null) : "restarted the login";
      }
      case 11: // AuthenticationSASLContinue
        return this.#step === "sasl" ? ((this.#step = "sasl-continue"), null) : "sent SCRAM messages out of order";
      case 12: // AuthenticationSASLFinal: postgres.js checks the server's signature in it.
        return this.#step === "sasl-continue" ? ((this.#step = "sasl-final"), null) : "sent SCRAM messages out of order";
      default:
        return `asked for an authentication method vmres does not speak (request ${request})`;
    }
  }
}

/** The stream's `event`, or an error when it closes first. */
async function next(stream: Socket, event: string, signal: AbortSignal): Promise<unknown[]> {
  const closed = once(stream, "close", { signal }).then(() => {
    throw new Error(`connection closed while waiting for ${event}`);
  });
  return Promise.race([once(stream, event, { signal }), closed]);
}

/**
 * A connection to the target, TLS first when the policy says so (SSLRequest, then the handshake),
 * within `timeoutMs` (postgres.js's connect_timeout; its own timer starts only after this).
 */
async function openTransport(target: Target, tls: LoginPolicy["tls"], timeoutMs: number | null): Promise<Socket> {
  const where = "path" in target ? target.path : `${target.host}:${target.port}`;
  const tcp = "path" in target ? createConnection(target.path) : createConnection(target.port, target.host);
  let secure: Socket | undefined;
  // Ends the waits below when they time out, and afterwards, so they leave no listener on the socket.
  const waits = new AbortController();
  let timedOut = false;
  const timer = timeoutMs === null ? undefined : setTimeout(() => ((timedOut = true), waits.abort()), timeoutMs);
  try {
    await next(tcp, "connect", waits.signal);
    if (tls === "disable" || "path" in target) return tcp;
    tcp.write(SSL_REQUEST);
    const [answer] = (await next(tcp, "data", waits.signal)) as [Buffer];
    // One byte, nothing after it: bytes sent before the handshake would be read as if they came through TLS.
    if (answer.length !== 1 || (answer[0] !== 0x53 && answer[0] !== 0x4e)) throw new LoginRefusedError(`${where} answered the TLS request with something else`);
    if (answer[0] === 0x4e) {
      // "N": no TLS on that server.
      if (tls === "prefer") return tcp;
      throw new Error(`${where} does not offer TLS, which sslmode=${tls} in DATABASE_URL requires`);
    }
    // Loaded only for a TLS login: most connections (the embedded server, a local DATABASE_URL) never need it.
    const { connect: tlsConnect } = await import("node:tls");
    secure = tlsConnect({
      socket: tcp,
      host: target.host,
      servername: isIP(target.host) ? undefined : target.host,
      rejectUnauthorized: tls === "verify-full",
    });
    await next(secure, "secureConnect", waits.signal);
    return secure;
  } catch (err) {
    secure?.destroy();
    tcp.destroy();
    if (!timedOut) throw err;
    // The code postgres.js gives its own timeout, which callers already read as "not connected".
    throw Object.assign(new Error(`no connection to ${where} within ${(timeoutMs ?? 0) / 1000} s (connect_timeout)`), { code: "CONNECT_TIMEOUT" });
  } finally {
    clearTimeout(timer);
    waits.abort();
  }
}
