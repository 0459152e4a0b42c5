import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { boltLogger } from "../../src/slack/bolt-logger.js";

describe("Bolt's log lines", () => {
  it("carry each key once, even under the Slack component's own logger", () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) });
    const service = pino({ level: "info" }, sink).child({ component: "slack" });
    const bolt = boltLogger(service, "bolt");
    bolt.setName("slack-web-api");
    bolt.warn("http request failed");

    expect(lines).toHaveLength(1);
    const line = lines[0] ?? "";
    expect(line.match(/"component":/g)).toHaveLength(1);
    expect(JSON.parse(line)).toMatchObject({ component: "slack", library: "slack-web-api", msg: "http request failed" });
  });
});
