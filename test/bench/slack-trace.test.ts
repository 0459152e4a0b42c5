/**
 * The Slack bench's "why" is computed from each DM's trace: the parts add up to
 * the DM's time, and the request part is split at the ack the bench received.
 */
import { describe, expect, it } from "vitest";
import { explainDms, splitDm, type LoggedTrace } from "../../bench/slack-trace.js";

const trace = (queuedAt: number): LoggedTrace => ({
  notice: 1,
  queuedAt,
  marks: [
    ["woken:local", 5],
    ["claim>", 10],
    ["claim<", 30],
    ["deliver>", 31],
    ["chat.postMessage>", 40],
  ],
});

describe("the Slack bench's split of a DM's time", () => {
  it("splits a DM at its ack, and its parts add up to the DM's time", () => {
    // Sent at 1000, acked at 1020, queued at 1100, DM at the fake Slack at 1150.
    const split = splitDm(1000, 1020, 1150, trace(1100));
    expect(split).toMatchObject({ ack: 20, request: 80, commit: 5, dispatcher: 5, claim: 20, worker: 1, before_post: 9, open: 0, post: 10 });
    expect(Object.values(split ?? {}).reduce((a, b) => a + b, 0)).toBe(150);
  });

  it("counts no ack part after the notice was queued (its ack read late by a busy bench)", () => {
    const split = splitDm(1000, 1200, 1250, trace(1100));
    expect(split?.ack).toBe(100);
    expect(split?.request).toBe(0);
  });

  it("names the parts that make up most of the p99 DM, from the figures measured", () => {
    const why = explainDms([{ ms: 150, split: splitDm(1000, 1020, 1150, trace(1100)) }]);
    expect(why).toMatch(/^the p99 DM \(150(\.0)? ms\) spent 80(\.0)? ms in ack → queued/);
  });
});
