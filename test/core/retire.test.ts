import { afterAll, beforeAll, expect, it } from "vitest";
import { becomeFree, stateWhenFree, type FreeState } from "../../src/core/retire.js";
import { freshDatabase } from "../helpers/db.js";

let database: Awaited<ReturnType<typeof freshDatabase>>;

beforeAll(async () => {
  database = await freshDatabase();
});
afterAll(async () => database.close());

const cases = (["available", "cleaning"] as FreeState[]).flatMap((free) => [true, false].map((marked) => ({ free, marked })));

it.each(cases)("sends a VM that becomes $free to retired only when it was marked to retire (marked: $marked)", ({ free, marked }) => {
  expect(stateWhenFree(free, marked)).toBe(marked ? "retired" : free);
});

it.each(cases)("decides in SQL as it does in code, and spends the mark (free: $free, marked: $marked)", async ({ free, marked }) => {
  // A table shaped like vms where the rule applies, so the statement runs as callers run it.
  const rows = await database.sql.begin(async (tx) => {
    await tx`create temporary table vms (state vm_state, retire_on_checkin boolean) on commit drop`;
    await tx`insert into vms values ('cleaning', ${marked})`;
    return tx<{ state: string; retire_on_checkin: boolean }[]>`update vms set ${becomeFree(tx, free)} returning state, retire_on_checkin`;
  });
  expect([...rows]).toEqual([{ state: stateWhenFree(free, marked), retire_on_checkin: false }]);
});
