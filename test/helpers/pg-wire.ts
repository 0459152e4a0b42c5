import { createConnection, createServer, type AddressInfo, type Socket } from "node:net";

/** What clients sent to PostgreSQL through a `WireCounter`, read off the protocol itself. */
export interface WireCounts {
  /** TCP connections opened (each one a login: startup, authentication, backend start). */
  connections: number;
  /** Statements run: simple queries ('Q') and executions of the extended protocol ('E'). */
  statements: number;
  /**
   * Times a client sent something after PostgreSQL had answered on that connection, the login's
   * own exchanges included: each is a wait for the server, however many statements it carried.
   */
  roundTrips: number;
  /** Milliseconds the clients waited, summed over the round trips: from a client's message to the server's first byte back. */
  waitMs: number;
  /** Milliseconds from each connection's accept to its first statement (TCP, startup, authentication, backend start), summed. */
  loginMs: number;
}

/**
 * A TCP relay in front of PostgreSQL that counts, from the frontend/backend protocol, the
 * connections, statements and round trips of whatever talks through it (a CLI call given its
 * `url`). Nothing in vmres has to cooperate, so it counts what ships.
 */
export interface WireCounter {
  /** The database URL with the relay's port. */
  url: string;
  counts(): WireCounts;
  reset(): void;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;

export async function wireCounter(databaseUrl: string): Promise<WireCounter> {
  const target = new URL(databaseUrl);
  const zero = (): WireCounts => ({ connections: 0, statements: 0, roundTrips: 0, waitMs: 0, loginMs: 0 });
  let counts = zero();
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    counts.connections++;
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) });
    sockets.add(client).add(upstream);
    for (const s of [client, upstream]) s.on("close", () => sockets.delete(s)).on("error", () => undefined);
    let buffered = Buffer.alloc(0);
    let startup = true;
    // The login's first message opens the first round trip; after that, a client write that follows a server answer opens another.
    const accepted = performance.now();
    let loggedIn = false;
    let answered = true;
    let waiting = false;
    let sentAt: number | null = null;
    const message = (type: string) => {
      if (waiting && type !== "X") {
        counts.roundTrips++;
        sentAt = performance.now();
      }
      waiting = false;
      if (type === "Q" || type === "E") counts.statements++;
      if (!loggedIn && (type === "Q" || type === "P")) {
        loggedIn = true;
        counts.loginMs += performance.now() - accepted;
      }
    };
    upstream.on("data", (chunk) => {
      if (sentAt !== null) counts.waitMs += performance.now() - sentAt;
      sentAt = null;
      answered = true;
      client.write(chunk);
    });
    client.on("data", (chunk: Buffer) => {
      // Counted at its first message: a Terminate alone ends the connection, nobody waits on it.
      if (answered) waiting = true;
      answered = false;
      upstream.write(chunk);
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (startup) {
          // Untyped: length, then a code (the protocol version, or a request for TLS/GSS encryption).
          if (buffered.length < 8) break;
          const length = buffered.readInt32BE(0);
          if (buffered.length < length) break;
          const code = buffered.readInt32BE(4);
          buffered = buffered.subarray(length);
          message("startup");
          if (code !== SSL_REQUEST && code !== GSS_REQUEST) startup = false;
          continue;
        }
        if (buffered.length < 5) break;
        const length = buffered.readInt32BE(1);
        if (buffered.length < 1 + length) break;
        const type = String.fromCharCode(buffered[0]!);
        message(type);
        buffered = buffered.subarray(1 + length);
      }
    });
    client.on("close", () => upstream.end());
    upstream.on("close", () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(databaseUrl);
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    counts: () => ({ ...counts }),
    reset: () => {
      counts = zero();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
