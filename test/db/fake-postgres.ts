import { createServer, type Socket } from "node:net";
import { TLSSocket } from "node:tls";

/** What a client sent: its startup message, or a typed message such as "p" (a password, SASL or MD5 answer). */
export interface ClientMessage {
  kind: string;
  body: Buffer;
}

/** A stranger speaking just enough PostgreSQL to ask a client to log in. */
export interface FakePostgres {
  port: number;
  /** Everything clients sent after the startup message, across connections. */
  messages: ClientMessage[];
  /** Messages of kind "p": what a client answers to a login request. */
  answers(): ClientMessage[];
  /** Connections that went on inside TLS. */
  tlsSessions: number;
  close(): Promise<void>;
}

/** A login request: "R", length, request code, then its data. */
export function loginRequest(request: number, data: Buffer | string = Buffer.alloc(0)): Buffer {
  const extra = Buffer.from(data);
  const message = Buffer.alloc(9 + extra.length);
  message.write("R", 0);
  message.writeUInt32BE(8 + extra.length, 1);
  message.writeUInt32BE(request, 5);
  extra.copy(message, 9);
  return message;
}

/** An ErrorResponse, as a server ends a login it refuses. */
export function loginFailed(text: string): Buffer {
  const fields = Buffer.from(`SFATAL\0C28P01\0M${text}\0\0`);
  const message = Buffer.alloc(5 + fields.length);
  message.write("E", 0);
  message.writeUInt32BE(4 + fields.length, 1);
  fields.copy(message, 5);
  return message;
}

export const cleartextRequest = () => loginRequest(3);
export const md5Request = () => loginRequest(5, Buffer.from([1, 2, 3, 4]));
export const loggedIn = () => loginRequest(0);

/**
 * Listens on 127.0.0.1 and lets `script` answer each client message (the
 * startup message first). With `tls`, answers an SSLRequest with "S" and goes
 * on inside TLS; without, with "N".
 */
export async function fakePostgres(
  script: (message: ClientMessage, send: (bytes: Buffer) => void) => void,
  tls?: { key: string; cert: string },
): Promise<FakePostgres> {
  const messages: ClientMessage[] = [];
  const fake = { messages, tlsSessions: 0 };
  const sockets = new Set<Socket>();
  const speak = (socket: Socket) => {
    sockets.add(socket);
    let unread = Buffer.alloc(0);
    let started = false;
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      unread = Buffer.concat([unread, chunk]);
      for (;;) {
        if (!started) {
          if (unread.length < 8) return;
          const length = unread.readUInt32BE(0);
          if (unread.length < length) return;
          const body = unread.subarray(4, length);
          unread = unread.subarray(length);
          if (length === 8 && body.readUInt32BE(0) === 80877103) {
            // SSLRequest
            if (!tls) {
              socket.write("N");
              continue;
            }
            socket.removeAllListeners("data");
            socket.write("S");
            fake.tlsSessions += 1;
            speak(new TLSSocket(socket, { isServer: true, key: tls.key, cert: tls.cert }));
            return;
          }
          started = true;
          script({ kind: "startup", body }, (bytes) => socket.write(bytes));
          continue;
        }
        if (unread.length < 5) return;
        const length = unread.readUInt32BE(1);
        if (unread.length < length + 1) return;
        const message = { kind: String.fromCharCode(unread[0] ?? 0), body: unread.subarray(5, length + 1) };
        unread = unread.subarray(length + 1);
        messages.push(message);
        script(message, (bytes) => socket.write(bytes));
      }
    });
  };
  const server = createServer(speak);
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("fake PostgreSQL has no port");
  return Object.assign(fake, {
    port: address.port,
    answers: () => messages.filter((message) => message.kind === "p"),
    close: () =>
      new Promise<void>((closed) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => closed());
      }),
  });
}

/** Asks for `request` on startup, and refuses whatever the client answers (so a client that answers is not left waiting). */
export function asking(request: () => Buffer): (message: ClientMessage, send: (bytes: Buffer) => void) => void {
  return (message, send) => {
    if (message.kind === "startup") send(request());
    if (message.kind === "p") send(loginFailed("a stranger took note"));
  };
}

/**
 * Starts SCRAM-SHA-256 like a real server, with a salt and nonce of its own,
 * but then logs the client in without the final message that carries the
 * server's proof: what a stranger that does not know the password would do.
 */
export function scramWithoutProof(): (message: ClientMessage, send: (bytes: Buffer) => void) => void {
  let answered = 0;
  return (message, send) => {
    if (message.kind === "startup") return send(loginRequest(10, "SCRAM-SHA-256\0\0"));
    if (message.kind !== "p") return;
    answered += 1;
    if (answered === 1) {
      const nonce = /r=([^,]+)$/.exec(message.body.toString("utf8"))?.[1] ?? "";
      send(loginRequest(11, `r=${nonce}stranger,s=${Buffer.from("salt of a stranger").toString("base64")},i=4096`));
    } else {
      send(loggedIn());
    }
  };
}
