import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApi } from "../../src/api/server.js";
import type { Core } from "../../src/core/types.js";
import type { Database } from "../../src/db/client.js";
import { createLogger } from "../../src/log.js";
import { addPoolVms, coreFor, freshDatabase } from "../helpers/db.js";
import { personWithToken } from "./helpers.js";

/*
 * An Idempotency-Key on a checkout or a check-in is claimed inside the request's own transaction
 * and its answer stored with the COMMIT: still exactly once, and a failure anywhere in between
 * leaves neither a claim without its answer nor a change without it.
 */
let database: Database;
let core: Core;
let api: Awaited<ReturnType<typeof buildApi>>;

beforeAll(async () => {
  database = await freshDatabase({ poolSize: 12 });
  core = coreFor(database, { defaultPool: "once" });
  await addPoolVms(core, "once", 12);
  const rate = { max: 100_000, windowMs: 60_000 };
  api = await buildApi({ core, log: createLogger("silent", "test"), rateLimit: { token: rate, person: rate }, claimTimeoutMs: 60_000, bodyLimit: 65_536, version: "test" });
});
afterAll(async () => {
  await api.app.close();
  await database.close();
});

const post = (token: string, key: string, body: Record<string, unknown> = { pool: "once" }) =>
  api.app.inject({ method: "POST", url: "/v1/checkouts", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": key }, payload: body });
const del = (token: string, id: number, key: string) =>
  api.app.inject({ method: "DELETE", url: `/v1/checkouts/${id}`, headers: { authorization: `Bearer ${token}`, "idempotency-key": key } });
const openCheckouts = async (personId: number) =>
  (await database.sql<{ n: number }[]>`select count(*)::int as n from checkouts where person_id = ${personId} and ended_at is null`)[0]!.n;
const keyRows = async (key: string) => database.sql<{ status: number | null }[]>`select status from idempotency_keys where key = ${key}`;

describe("an Idempotency-Key claimed in the request's own transaction", () => {
  it("gives a retried checkout and a retried check-in the first answer, and does each once", async () => {
    const ann = await personWithToken(core, "ann-once");
    const first = await post(ann.token, "ann-out");
    expect(first.statusCode).toBe(201);
    const again = await post(ann.token, "ann-out");
    expect(again.statusCode).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json()).toEqual(first.json());
    expect(await openCheckouts(ann.personId)).toBe(1);
    expect(await keyRows("ann-out")).toEqual([{ status: 201 }]);

    const id = (first.json() as { id: number }).id;
    const back = await del(ann.token, id, "ann-in");
    expect(back.statusCode).toBe(200);
    const backAgain = await del(ann.token, id, "ann-in");
    expect(backAgain.statusCode).toBe(200);
    expect(backAgain.headers["idempotent-replayed"]).toBe("true");
    expect(backAgain.json()).toEqual(back.json());
    const [ends] = await database.sql<{ n: number }[]>`select count(*)::int as n from events where kind = 'checked_in' and detail->>'checkout' = ${String(id)}`;
    expect(ends?.n).toBe(1);
  });

  it("keeps a refused check-in's answer with the same key: a retry is told the same, even after the checkout changed hands", async () => {
    const bo = await personWithToken(core, "bo-once");
    const cy = await personWithToken(core, "cy-once");
    const out = await post(cy.token, "cy-out");
    const id = (out.json() as { id: number }).id;
    const refused = await del(bo.token, id, "bo-in");
    expect(refused.statusCode).toBe(403);
    expect(await keyRows("bo-in")).toEqual([{ status: 403 }]);
    expect((await del(cy.token, id, "cy-in")).statusCode).toBe(200);
    const retry = await del(bo.token, id, "bo-in");
    expect(retry.statusCode).toBe(403);
    expect(retry.json()).toEqual(refused.json());
  });

  it("makes one checkout of the same key sent six times at once; each is answered with that VM or told to retry", async () => {
    const dee = await personWithToken(core, "dee-once");
    const answers = await Promise.all(Array.from({ length: 6 }, () => post(dee.token, "dee-burst")));
    const lent = answers.filter((a) => a.statusCode === 201);
    expect(lent.length).toBeGreaterThanOrEqual(1);
    expect(answers.every((a) => a.statusCode === 201 || a.statusCode === 409)).toBe(true);
    expect(new Set(lent.map((a) => (a.json() as { id: number }).id)).size).toBe(1);
    for (const a of answers.filter((x) => x.statusCode === 409)) expect((a.json() as { code: string }).code).toBe("idempotency_in_progress");
    expect(await openCheckouts(dee.personId)).toBe(1);
    const later = await post(dee.token, "dee-burst");
    expect(later.json()).toEqual(lent[0]!.json());
  });

  it("leaves no key claimed and no checkout when the transaction fails after the claim, so the retry runs", async () => {
    const eve = await personWithToken(core, "eve-once");
    await database.sql.unsafe(`
      create function test_fail_checkout() returns trigger language plpgsql as $$
      begin if new.note = 'boom' then raise exception 'failing on purpose'; end if; return new; end $$;
      create trigger test_fail_checkout before insert on checkouts for each row execute function test_fail_checkout()`);
    try {
      const failed = await post(eve.token, "eve-boom", { pool: "once", note: "boom" });
      expect(failed.statusCode).toBe(500);
      expect(await keyRows("eve-boom")).toEqual([]);
      expect(await openCheckouts(eve.personId)).toBe(0);
    } finally {
      await database.sql.unsafe(`drop trigger test_fail_checkout on checkouts; drop function test_fail_checkout()`);
    }
    const retry = await post(eve.token, "eve-boom", { pool: "once", note: "boom" });
    expect(retry.statusCode).toBe(201);
    expect(await openCheckouts(eve.personId)).toBe(1);
  });

  it("undoes the checkout when its answer cannot be stored: never a checkout whose retry would find no answer", async () => {
    const fay = await personWithToken(core, "fay-once");
    await database.sql.unsafe(`
      create function test_fail_store() returns trigger language plpgsql as $$
      begin if new.key = 'fay-store' and new.status is not null then raise exception 'failing on purpose'; end if; return new; end $$;
      create trigger test_fail_store before update on idempotency_keys for each row execute function test_fail_store()`);
    try {
      const failed = await post(fay.token, "fay-store");
      expect(failed.statusCode).toBe(500);
      expect(await openCheckouts(fay.personId)).toBe(0);
      expect(await keyRows("fay-store")).toEqual([]);
    } finally {
      await database.sql.unsafe(`drop trigger test_fail_store on idempotency_keys; drop function test_fail_store()`);
    }
    const retry = await post(fay.token, "fay-store");
    expect(retry.statusCode).toBe(201);
    expect(await keyRows("fay-store")).toEqual([{ status: 201 }]);
  });
});
