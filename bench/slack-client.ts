/**
 * The Slack bench's sender: signed requests fired all at once from a client
 * process of its own, and the bare Node HTTP server that is the floor under
 * the ack latency.
 */
import { spawn } from "node:child_process";
import { signature, type SlackRequest } from "../test/helpers/slack-requests.js";
import { stopApp } from "./slack-service.js";

/** One burst as the client saw it: wall-clock start and end (Date.now(), shared with this process), and each request's time. */
export interface Burst {
  startedAt: number;
  endedAt: number;
  /** In request order; `sentAt` is the wall-clock time (ms since the epoch, sub-ms) the request was sent. */
  results: { ms: number; status: number; sentAt: number }[];
}

/**
 * Sends the requests all at once, request i to urls[i % urls.length] (replicas
 * in turn), signed as Slack signs them, and returns each one's time to its
 * answer. A separate process, so that the fake Slack in this one (busy with the
 * replies and DMs the app sends meanwhile) does not slow the client down and
 * inflate the numbers.
 */
export async function fire(urls: string[], requests: SlackRequest[], secret: string): Promise<Burst> {
  const timestamp = Math.floor(Date.now() / 1000);
  const signed = requests.map((r, i) => ({
    url: urls[i % urls.length],
    body: r.rawBody,
    headers: {
      "content-type": r.contentType,
      "x-slack-request-timestamp": String(timestamp),
      "x-slack-signature": signature(secret, timestamp, r.rawBody),
    },
  }));
  // node:http with a keep-alive agent, connections opened beforehand: Slack's
  // senders reuse connections too, and undici's fetch costs the client ~1 ms of
  // CPU per request, which with 50 in flight would be measured as server latency.
  const code = `
    const http = require("node:http");
    let input = "";
    process.stdin.on("data", (c) => (input += c)).on("end", async () => {
      const { requests } = JSON.parse(input);
      const agent = new http.Agent({ keepAlive: true, maxSockets: requests.length });
      const send = (method, url, headers, body) => new Promise((resolve, reject) => {
        const t0 = performance.now();
        const req = http.request(url, { method, headers, agent }, (res) => {
          res.resume();
          res.on("end", () => resolve({ ms: performance.now() - t0, status: res.statusCode, sentAt: performance.timeOrigin + t0 }));
        });
        req.on("error", reject);
        req.end(body);
      });
      // Open one connection per request and warm the client, all untimed.
      await Promise.all(requests.map((r) => send("GET", new URL("/healthz", r.url), {}, undefined)));
      const startedAt = Date.now();
      const results = await Promise.all(requests.map((r) => send("POST", r.url, r.headers, r.body)));
      agent.destroy();
      process.stdout.write(JSON.stringify({ startedAt, endedAt: Date.now(), results }));
    });`;
  const child = spawn(process.execPath, ["-e", code], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  child.stdin?.end(JSON.stringify({ requests: signed }));
  const exitCode = await exited;
  if (exitCode !== 0) throw new Error(`bench client exited with ${exitCode}`);
  return JSON.parse(out) as Burst;
}

/**
 * The floor under the ack latency: the same requests, from the same kind of
 * client, to a Node HTTP server that only reads the body and answers 200, in a
 * process of its own. On a machine busy with other work both numbers rise.
 */
export async function bareBaseline(requests: SlackRequest[], warmup: number, secret: string): Promise<number[]> {
  const code = `require("node:http").createServer((q, s) => { q.resume(); q.on("end", () => s.end()); }).listen(0, "127.0.0.1", function () { console.log(this.address().port); });`;
  const server = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "ignore"] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      server.stdout?.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
      server.once("exit", () => reject(new Error("baseline server exited")));
    });
    const url = `http://127.0.0.1:${port}/`;
    await fire([url], requests.slice(0, warmup), secret);
    return (await fire([url], requests, secret)).results.map((r) => r.ms);
  } finally {
    await stopApp(server);
  }
}
