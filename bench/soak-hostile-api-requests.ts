/**
 * API cases about the request pipeline: oversized and malformed bodies,
 * replayed Idempotency-Keys (acts once; another body is 422), many requests
 * with one key at once (exactly one checkout), and the rate limit (429 with
 * Retry-After; the key sent over the limit is not kept, so its retry after
 * the window acts).
 */
import { expectStatus, randomKey, said, sleep, type ApiCase, type Attack } from "./soak-hostile-api-case.js";
import { call, type ApiAnswer, type ApiWorld } from "./soak-hostile-api-world.js";

/** A fresh person's request that must be refused with one of `ok` and change nothing. */
function oversized(name: string, ok: (number | "conn")[], request: (w: ApiWorld, token: string) => Promise<ApiAnswer>): ApiCase {
  return {
    name,
    family: "oversized",
    async make(w) {
      const p = await w.person("oversized");
      return async (): Promise<Attack> => {
        const answer = await request(w, p.token);
        const fine = typeof answer.status === "number" ? ok.includes(answer.status) : ok.includes("conn");
        return { answers: [answer], misses: fine ? [] : [`${said(answer)}, expected ${ok.join(" or ")}`] };
      };
    },
  };
}

const id = (a: ApiAnswer): unknown => (a.json as { id?: unknown } | null)?.id;
const replayed = (a: ApiAnswer): boolean => a.headers?.get("idempotent-replayed") === "true";

/** The rate-limit cases share the key sent over the limit and when its window ends. */
const LIMITED = "rate-limited";
interface Limited {
  token: string;
  key: string;
  body: Record<string, unknown>;
  retryAt: number;
}

export const REQUEST_CASES: ApiCase[] = [
  oversized("a JSON body over API_BODY_LIMIT (a 100 KB note)", [413], (w, t) => call(w.url, t, "POST", "/v1/checkouts", { body: { pool: w.replayPool, note: "x".repeat(100_000) } })),
  oversized("4 MB sent chunked, with no length", [413, 400, "conn"], (w, t) => call(w.url, t, "POST", "/v1/checkouts", { raw: { stream: 4 * 1024 * 1024 } })),
  oversized("JSON nested 5,000 deep, under the limit", [400], (w, t) => call(w.url, t, "POST", "/v1/checkouts", { raw: "[".repeat(5000) + "]".repeat(5000) })),
  oversized("a note of 5,000 characters (the API takes 500)", [400, 422], (w, t) => call(w.url, t, "POST", "/v1/checkouts", { body: { pool: w.replayPool, note: "n".repeat(5000) } })),
  oversized("an Idempotency-Key of 300 characters", [400], (w, t) => call(w.url, t, "POST", "/v1/checkouts", { body: { pool: w.replayPool }, headers: { "idempotency-key": "k".repeat(300) } })),
  oversized("an Idempotency-Key of 20,000 characters", [400, 431, "conn"], (w, t) => call(w.url, t, "POST", "/v1/checkouts", { body: { pool: w.replayPool }, headers: { "idempotency-key": "k".repeat(20_000) } })),
  oversized("a query string of 100,000 characters", [400, 414, 431, "conn"], (w, t) => call(w.url, t, "GET", `/v1/checkouts?user=${"U".repeat(100_000)}`)),
  {
    name: "a checkout, then the same key and body again",
    family: "replayed key",
    changes: { checkouts: 1 },
    async make(w) {
      const p = await w.person("replaying");
      return async () => {
        const key = randomKey();
        const send = () => call(w.url, p.token, "POST", "/v1/checkouts", { body: { pool: w.replayPool, note: "replay" }, headers: { "idempotency-key": key } });
        const first = await send();
        const again = await send();
        const misses: string[] = [];
        expectStatus(misses, "the first", first, 201);
        if (expectStatus(misses, "the retry", again, 201) && (id(again) !== id(first) || !replayed(again))) misses.push("the retry is not the first answer replayed");
        return { answers: [first, again], misses };
      };
    },
  },
  {
    name: "the same key with another body",
    family: "replayed key",
    async make(w) {
      const p = await w.person("reusing");
      const key = randomKey();
      const first = await call(w.url, p.token, "POST", "/v1/checkouts", { body: { pool: w.replayPool, note: "first" }, headers: { "idempotency-key": key } });
      if (first.status !== 201) throw new Error(`setup: a keyed checkout answered ${said(first)}`);
      return async () => {
        const other = await call(w.url, p.token, "POST", "/v1/checkouts", { body: { pool: w.replayPool, note: "second" }, headers: { "idempotency-key": key } });
        const misses: string[] = [];
        if (expectStatus(misses, "answer", other, 422) && (other.json as { code?: unknown } | null)?.code !== "idempotency_key_reused") misses.push(`code ${said(other)}`);
        return { answers: [other], misses };
      };
    },
  },
  {
    name: "the checkout's key again after its check-in",
    family: "replayed key",
    async make(w) {
      const p = await w.person("late-retry");
      const key = randomKey();
      const body = { pool: w.replayPool };
      const first = await call(w.url, p.token, "POST", "/v1/checkouts", { body, headers: { "idempotency-key": key } });
      const done = await call(w.url, p.token, "DELETE", `/v1/checkouts/${String(id(first))}`);
      if (first.status !== 201 || done.status !== 200) throw new Error(`setup: checkout ${said(first)}, check-in ${said(done)}`);
      return async () => {
        const again = await call(w.url, p.token, "POST", "/v1/checkouts", { body, headers: { "idempotency-key": key } });
        const misses: string[] = [];
        if (expectStatus(misses, "the retry", again, 201) && id(again) !== id(first)) misses.push(`the retry made checkout ${String(id(again))}`);
        return { answers: [again], misses };
      };
    },
  },
  {
    name: "another person's Idempotency-Key is not theirs to replay",
    family: "replayed key",
    changes: { checkouts: 1 },
    async make(w) {
      const [a, b] = [await w.person("key-owner"), await w.person("key-copier")];
      const key = randomKey();
      const body = { pool: w.replayPool, note: "key-owner's secret note 3e9b" };
      const first = await call(w.url, a.token, "POST", "/v1/checkouts", { body, headers: { "idempotency-key": key } });
      if (first.status !== 201) throw new Error(`setup: a keyed checkout answered ${said(first)}`);
      return async () => {
        const copy = await call(w.url, b.token, "POST", "/v1/checkouts", { body, headers: { "idempotency-key": key } });
        const misses: string[] = [];
        if (expectStatus(misses, "answer", copy, 201) && (id(copy) === id(first) || replayed(copy))) misses.push("got the other person's checkout as its answer");
        return { answers: [copy], misses };
      };
    },
  },
  {
    name: "20 checkouts with one key at once",
    family: "concurrent key",
    changes: { checkouts: 1 },
    async make(w) {
      const p = await w.person("stampede");
      return async () => {
        const key = randomKey();
        const answers = await Promise.all(
          Array.from({ length: 20 }, () => call(w.url, p.token, "POST", "/v1/checkouts", { body: { pool: w.replayPool }, headers: { "idempotency-key": key } })),
        );
        const misses: string[] = [];
        const made = answers.filter((a) => a.status === 201);
        const others = answers.filter((a) => a.status !== 201 && !(a.status === 409 && (a.json as { code?: unknown } | null)?.code === "idempotency_in_progress"));
        if (made.length === 0) misses.push("no 201 at all");
        if (new Set(made.map(id)).size > 1) misses.push(`201s name ${new Set(made.map(id)).size} different checkouts`);
        if (others.length > 0) misses.push(`other answers: ${others.map(said).join(", ")}`);
        return { answers, misses };
      };
    },
  },
  {
    name: "20 check-ins of one checkout with one key at once",
    family: "concurrent key",
    acts: true,
    async make(w) {
      const p = await w.person("stampede-in");
      const out = await call(w.url, p.token, "POST", "/v1/checkouts", { body: { pool: w.replayPool } });
      if (out.status !== 201) throw new Error(`setup: checkout answered ${said(out)}`);
      return async () => {
        const key = randomKey();
        const [mark] = await w.database.sql<{ id: number }[]>`select coalesce(max(id), 0)::int as id from events`;
        const answers = await Promise.all(Array.from({ length: 20 }, () => call(w.url, p.token, "DELETE", `/v1/checkouts/${String(id(out))}`, { headers: { "idempotency-key": key } })));
        const misses: string[] = [];
        const odd = answers.filter((a) => a.status !== 200 && !(a.status === 409 && (a.json as { code?: unknown } | null)?.code === "idempotency_in_progress"));
        if (!answers.some((a) => a.status === 200)) misses.push("no 200 at all");
        if (odd.length > 0) misses.push(`other answers: ${odd.map(said).join(", ")}`);
        const [row] = await w.database.sql<{ n: number }[]>`select count(*)::int as n from events where kind = 'checked_in' and id > ${mark?.id ?? 0}`;
        if ((row?.n ?? 0) !== 1) misses.push(`${row?.n ?? 0} check-in events, expected 1`);
        return { answers, misses };
      };
    },
  },
  {
    name: "a burst of 70 requests on one token, then a keyed checkout",
    family: "rate limit",
    async make(w) {
      const p = await w.person("bursting");
      return async () => {
        const answers = await Promise.all(Array.from({ length: 70 }, () => call(w.url, p.token, "GET", "/v1/me")));
        const limited: Limited = { token: p.token, key: randomKey(), body: { pool: w.replayPool, note: "after the window" }, retryAt: Date.now() + 61_000 };
        const over = await call(w.url, p.token, "POST", "/v1/checkouts", { body: limited.body, headers: { "idempotency-key": limited.key } });
        const misses: string[] = [];
        const refused = [...answers, over].filter((a) => a.status === 429);
        if (answers.filter((a) => a.status === 429).length < 10) misses.push(`${answers.filter((a) => a.status === 429).length} of 70 got 429 (API_RATE_LIMIT 60/min)`);
        const noWait = refused.filter((a) => !/^\d+$/.test(a.headers?.get("retry-after") ?? ""));
        if (noWait.length > 0) misses.push(`${noWait.length} 429s without Retry-After`);
        if (expectStatus(misses, "the keyed checkout over the limit", over, 429)) limited.retryAt = Date.now() + 1000 * (Number(over.headers?.get("retry-after") ?? 60) + 1);
        const [kept] = await w.database.sql<{ status: number | null }[]>`select status from idempotency_keys where key = ${limited.key}`;
        if (kept?.status === 429) misses.push("the 429 was kept as the key's answer");
        w.notes.set(LIMITED, limited);
        return { answers: [...answers, over], misses };
      };
    },
  },
  {
    name: "one person's second token does not double the rate limit",
    family: "rate limit",
    async make(w) {
      const p = await w.person("two-tokens");
      const second = await call(w.url, p.token, "POST", "/v1/tokens", { body: { label: "second" } });
      const token2 = (second.json as { token?: unknown } | null)?.token;
      if (typeof token2 !== "string") throw new Error(`setup: a second token answered ${said(second)}`);
      w.secrets.set(token2, `${p.slackId}'s second token`);
      return async () => {
        const answers = await Promise.all([...Array.from({ length: 40 }, () => call(w.url, p.token, "GET", "/v1/me")), ...Array.from({ length: 40 }, () => call(w.url, token2, "GET", "/v1/me"))]);
        const n = answers.filter((a) => a.status === 429).length;
        return { answers, misses: n < 19 ? [`${n} of 80 got 429: the person got more than 60/min with two tokens`] : [] };
      };
    },
  },
];

/** Last of the first run: the key over the limit, after its window (the counts live in PostgreSQL per window, so the case waits for the window to pass, not for a restart). */
export const AFTER_WINDOW_CASE: ApiCase = {
  name: "the key sent over the limit, retried after its window",
  family: "rate limit",
  changes: { checkouts: 1 },
  async make(w) {
    const limited = w.notes.get(LIMITED) as Limited | undefined;
    if (!limited) throw new Error("setup: the burst case did not run");
    await sleep(Math.max(0, limited.retryAt - Date.now()));
    return async () => {
      const again = await call(w.url, limited.token, "POST", "/v1/checkouts", { body: limited.body, headers: { "idempotency-key": limited.key } });
      const misses: string[] = [];
      if (expectStatus(misses, "the retry", again, 201) && replayed(again)) misses.push("a replayed answer");
      if (again.status === 429 && replayed(again)) misses.push("the stored 429 replayed");
      return { answers: [again], misses };
    };
  },
};
