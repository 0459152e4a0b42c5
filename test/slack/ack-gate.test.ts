/**
 * The work after an ack waits for the other requests' acks (src/slack/ack-gate.ts),
 * never longer than its bound, so a burst's acks go before its checkouts.
 */
import { describe, expect, it } from "vitest";
import { AckGate } from "../../src/slack/ack-gate.js";

/** Resolves after the turns of the event loop a request's work would take. */
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe("the ack gate", () => {
  it("starts the work after an ack only once every request under way has been answered", async () => {
    const gate = new AckGate(60_000);
    const first = gate.enter();
    const second = gate.enter();
    const order: string[] = [];
    const work = gate.whenAcked().then(() => order.push("work"));
    await turns(5);
    order.push("first answered");
    first();
    await turns(5);
    order.push("second answered");
    second();
    await work;
    expect(order).toEqual(["first answered", "second answered", "work"]);
  });

  it("lets work go when no request is under way, and after its bound when requests keep coming", async () => {
    const idle = new AckGate(60_000);
    await idle.whenAcked();
    const busy = new AckGate(5);
    busy.enter();
    // Never answered: the bound lets the work go regardless.
    await busy.whenAcked();
    expect(true).toBe(true);
  });

  it("counts a request answered twice (finish, then close) once", async () => {
    const gate = new AckGate(60_000);
    const answered = gate.enter();
    const other = gate.enter();
    answered();
    answered();
    let started = false;
    const work = gate.whenAcked().then(() => (started = true));
    await turns(5);
    expect(started).toBe(false);
    other();
    await work;
    expect(started).toBe(true);
  });
});
