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

/** What postgres.js hands its `socket` function. */
interface SocketOptions {
  host: string[];
  port: number[];
  path: string | false | undefined;
}

type Target = { path: string } | { host: string; port: number };

/**
 * postgres.js options that pass every connection through a LoginGuard.
 * postgres.js answers whatever the server asks for (the password in clear, its
 * md5, or SCRAM) and takes an AuthenticationOk that skips SCRAM's server proof;
 * it has no setting to refuse, and a `password` function is called for every
 * kind of request without being told which. Its documented `socket` option (a function
 * returning a duplex stream, README "Custom socket") is the supported place to
 * stand between it and the server. TLS is done inside the guard, where the
 * login can still be read, so postgres.js itself gets `ssl: false`.
 */
export function guardedConnections(policy: LoginPolicy): { ssl: false; socket: (options: SocketOptions) => Duplex } {
  let attempts = 0;
  return {
    ssl: false,
    socket(options) {
      // With a socket function postgres.js no longer walks a multi-host list itself.
      const i = attempts++ % Math.max(1, options.host.length);
      const target: Target = options.path ? { path: options.path } : { host: options.host[i] ?? "localhost", port: options.port[i] ?? 5432 };
      return new LoginGuard(policy, target);
    },
  };
}

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
/** Nothing a server sends before logging us in comes near this; more is not PostgreSQL talking. */
const MAX_LOGIN_MESSAGE = 1 << 20;

/**
 * The socket postgres.js talks through: it passes on the server's messages
 * only as far as the policy allows until the server has logged us in, and is
 * a plain pipe after that. A refused request is never passed on, so
 * postgres.js never answers it and the password is never used.
 */
class LoginGuard extends Duplex {
  /** Read by postgres.js for its error messages. */
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly #policy: LoginPolicy;
  readonly #target: Target;
  readonly #abort = new AbortController();
  readonly #opened: Promise<Socket | null>;
  #transport: Socket | null = null;
  #unread = Buffer.alloc(0);
  #step: "start" | "password" | "sasl" | "sasl-continue" | "sasl-final" | "in" = "start";

  constructor(policy: LoginPolicy, target: Target) {
    super({ allowHalfOpen: false });
    this.#policy = policy;
    this.#target = target;
    if ("host" in target) ({ host: this.host, port: this.port } = target);
    this.#opened = openTransport(target, policy.tls, this.#abort.signal).then(
      (transport) => {
        if (this.destroyed) return (transport.destroy(), null);
        this.#transport = transport;
        transport.on("data", (chunk: Buffer) => this.#receive(chunk));
        transport.on("end", () => this.push(null));
        transport.on("error", (err) => this.destroy(err));
        transport.on("close", () => this.destroy());
        transport.resume();
        return transport;
      },
      (err: unknown) => (this.destroy(err instanceof Error ? err : new Error(String(err))), null),
    );
  }

  /** postgres.js says goodbye (Terminate) only on an "open" socket, and waits for "close" unless "closed". */
  get readyState(): string {
    return this.destroyed ? "closed" : (this.#transport?.readyState ?? "opening");
  }

  setKeepAlive(enable: boolean, delay: number): this {
    void this.#opened.then((transport) => transport?.setKeepAlive(enable, delay));
    return this;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    void this.#opened.then((transport) => {
      if (!transport) return done(new Error("connection closed"));
      if (transport.write(chunk)) done();
      else transport.once("drain", () => done());
    });
  }

  override _final(done: (err?: Error | null) => void): void {
    void this.#opened.then((transport) => (transport ? transport.end(() => done()) : done()));
  }

  override _read(): void {
    this.#transport?.resume();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.#abort.abort();
    this.#transport?.destroy();
    // postgres.js (3.4.9) sends small writes from a setImmediate, and its "close" handler cancels
    // that immediate without forgetting it: no write is ever scheduled again on that connection,
    // so every later login on it sits silent until connect_timeout (30 s), again and again. It
    // writes its StartupMessage as soon as it has this stream, so a refused connection (server
    // down) closed before that immediate ran, every time. Closing one turn of the event loop
    // later lets the pending write run first (into a destroyed stream, where it is dropped).
    setImmediate(() => done(err));
  }

  /**
   * "close" says whether an error closed the stream, as net.Socket's does: postgres.js backs
   * off its reconnects only then. Without it, the LISTEN connection retried every 10 ms while
   * the server was down (a hundred logins a second per process).
   */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === "close" && args.length === 0) return super.emit("close", this.errored !== null);
    return super.emit(event, ...args);
  }

  /** A method, not a comparison inline: TypeScript would keep #step narrowed across #check(). */
  #loggedIn(): boolean {
    return this.#step === "in";
  }

  #receive(chunk: Buffer): void {
    if (this.#loggedIn()) {
      if (!this.push(chunk)) this.#transport?.pause();
      return;
    }
    this.#unread = Buffer.concat([this.#unread, chunk]);
    while (!this.#loggedIn() && this.#unread.length >= 5) {
      const size = this.#unread.readUInt32BE(1) + 1;
      if (size < 5 || size > MAX_LOGIN_MESSAGE) return this.#refuse("sent something that is not a PostgreSQL message");
      if (this.#unread.length < size) return;
      const message = this.#unread.subarray(0, size);
      this.#unread = this.#unread.subarray(size);
      const refusal = this.#check(message);
      if (refusal) return this.#refuse(refusal);
      this.push(message);
    }
    if (this.#loggedIn() && this.#unread.length > 0) {
      this.push(this.#unread);
      this.#unread = Buffer.alloc(0);
    }
  }

  /** Why the policy refuses this message from the server, or null to pass it on. */
  #check(message: Buffer): string | null {
    const kind = String.fromCharCode(message[0] ?? 0);
    if (kind === "E" || kind === "N" || kind === "v") return null; // error, notice, protocol version
    if (kind !== "R" || message.length < 9) return `sent a "${kind}" message before logging us in`;
    const { methods } = this.#policy;
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

  #refuse(reason: string): void {
    const where = "path" in this.#target ? this.#target.path : `${this.#target.host}:${this.#target.port}`;
    const allowed = [...this.#policy.methods].join(", ");
    this.destroy(
      new LoginRefusedError(
        `refused to log in to ${where}: the server ${reason}, and this connection allows only ${allowed}; the password was not sent. ${this.#policy.hint}`,
      ),
    );
  }
}

/** The stream's `event`, or an error when it closes first. */
async function next(stream: Socket, event: string, signal: AbortSignal): Promise<unknown[]> {
  const closed = once(stream, "close", { signal }).then(() => {
    throw new Error(`connection closed while waiting for ${event}`);
  });
  return Promise.race([once(stream, event, { signal }), closed]);
}

/** A connection to the target, TLS first when the policy says so (SSLRequest, then the handshake). */
async function openTransport(target: Target, tls: LoginPolicy["tls"], signal: AbortSignal): Promise<Socket> {
  const tcp = "path" in target ? createConnection(target.path) : createConnection(target.port, target.host);
  signal.addEventListener("abort", () => tcp.destroy(), { once: true });
  await next(tcp, "connect", signal);
  if (tls === "disable" || "path" in target) return tcp;
  tcp.write(SSL_REQUEST);
  const [answer] = (await next(tcp, "data", signal)) as [Buffer];
  const where = `${target.host}:${target.port}`;
  // One byte, nothing after it: bytes sent before the handshake would be read as if they came through TLS.
  if (answer.length !== 1 || (answer[0] !== 0x53 && answer[0] !== 0x4e)) throw new LoginRefusedError(`${where} answered the TLS request with something else`);
  if (answer[0] === 0x4e) {
    // "N": no TLS on that server.
    if (tls === "prefer") return (tcp.pause(), tcp);
    throw new Error(`${where} does not offer TLS, which sslmode=${tls} in DATABASE_URL requires`);
  }
  // Loaded only for a TLS login: most connections (the embedded server, a local DATABASE_URL) never need it.
  const { connect: tlsConnect } = await import("node:tls");
  const secure = tlsConnect({
    socket: tcp,
    host: target.host,
    servername: isIP(target.host) ? undefined : target.host,
    rejectUnauthorized: tls === "verify-full",
  });
  await next(secure, "secureConnect", signal);
  return secure;
}
