/**
 * A local stand-in for Slack's Socket Mode endpoint: the WebSocket URL that
 * apps.connections.open hands out. It speaks just enough RFC 6455 (handshake,
 * text frames both ways, ping → pong, close) and Slack's protocol on top: a
 * `hello` on connect, envelopes Slack would push (slash_commands, interactive,
 * events_api), and the app's acks, matched by envelope_id.
 */
import { createHash, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** What the app sent back for one envelope. */
export interface Ack {
  envelope_id: string;
  payload?: unknown;
}

export class SocketModeServer {
  readonly acks: Ack[] = [];
  /** Connections the app opened, in order. */
  connections = 0;
  private socket: Duplex | undefined;

  private constructor(
    private readonly server: Server,
    /** The wss-style URL apps.connections.open should answer with. */
    readonly url: string,
  ) {}

  static async start(): Promise<SocketModeServer> {
    const server = createServer((_req, res) => res.writeHead(426).end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const sm = new SocketModeServer(server, `ws://127.0.0.1:${(server.address() as AddressInfo).port}/link`);
    server.on("upgrade", (req, socket) => sm.accept(req.headers["sec-websocket-key"], socket));
    return sm;
  }

  /** Pushes an envelope as Slack does and waits for the app's ack of it. */
  async push(type: "slash_commands" | "interactive" | "events_api", payload: unknown, timeoutMs = 5000): Promise<Ack> {
    const envelope_id = randomUUID();
    this.send({ envelope_id, type, payload, accepts_response_payload: type !== "events_api" });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ack = this.acks.find((a) => a.envelope_id === envelope_id);
      if (ack) return ack;
      if (Date.now() > deadline) throw new Error(`no ack for ${type} envelope within ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  async close(): Promise<void> {
    this.socket?.destroy();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private accept(key: string | undefined, socket: Duplex): void {
    const accept = createHash("sha1").update(`${key ?? ""}${WS_GUID}`).digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    this.socket = socket;
    this.connections++;
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (let frame = readFrame(buffered); frame; frame = readFrame(buffered)) {
        buffered = buffered.subarray(frame.length);
        this.onFrame(socket, frame.opcode, frame.payload);
      }
    });
    socket.on("error", () => socket.destroy());
    this.send({ type: "hello", num_connections: 1, connection_info: { app_id: "A0VMRES01" } });
  }

  private onFrame(socket: Duplex, opcode: number, payload: Buffer): void {
    if (opcode === 0x1) this.acks.push(JSON.parse(payload.toString("utf8")) as Ack);
    else if (opcode === 0x9) socket.write(frame(0xa, payload));
    else if (opcode === 0x8) socket.end(frame(0x8, payload));
  }

  private send(message: unknown): void {
    this.socket?.write(frame(0x1, Buffer.from(JSON.stringify(message))));
  }
}

/** A server frame: final, unmasked. */
function frame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (n >= 126 && n < 65536) {
    head[0] = 0x80 | opcode;
    head[1] = 126;
    head.writeUInt16BE(n, 2);
  } else if (n >= 65536) {
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

/** One complete client frame (clients always mask) at the start of `buf`, or null if more bytes are needed. */
function readFrame(buf: Buffer): { opcode: number; payload: Buffer; length: number } | null {
  if (buf.length < 2) return null;
  const opcode = (buf[0] ?? 0) & 0x0f;
  let len = (buf[1] ?? 0) & 0x7f;
  let offset = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    offset = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  const masked = ((buf[1] ?? 0) & 0x80) !== 0;
  const mask = masked ? buf.subarray(offset, offset + 4) : null;
  if (masked) offset += 4;
  if (buf.length < offset + len) return null;
  const payload = Buffer.from(buf.subarray(offset, offset + len));
  if (mask) for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
  return { opcode, payload, length: offset + len };
}
