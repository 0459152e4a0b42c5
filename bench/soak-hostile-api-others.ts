/**
 * API cases about other people's things: their checkout ids, booking labels,
 * tokens and `user=` filters, run with HIDE_HOLDERS off and on. Off, a team
 * tool shows who holds what (seeing is fine, acting is not); on, nothing of
 * another person (their name, their notes, which VMs they hold or booked)
 * reaches a non-admin. A VM's cleanup output is for admins in both.
 */
import { expectNothingOfOthers, expectStatus, type ApiCase, type Attack } from "./soak-hostile-api-case.js";
import { call, type ApiAnswer, type ApiWorld } from "./soak-hostile-api-world.js";

/** A non-admin attacker's requests, each with the statuses a correct service answers. */
function aimed(name: string, requests: (w: ApiWorld, hidden: boolean) => { method: string; path: string; body?: unknown; ok: number[] }[], check?: (w: ApiWorld, hidden: boolean, answers: ApiAnswer[], misses: string[]) => Promise<void>): ApiCase {
  return {
    name,
    family: "others' things",
    bothModes: true,
    async make(w, hidden) {
      const attacker = await w.person(hidden ? "mallory-hidden" : "mallory");
      return async (): Promise<Attack> => {
        const answers: ApiAnswer[] = [];
        const misses: string[] = [];
        for (const r of requests(w, hidden)) {
          const a = await call(w.url, attacker.token, r.method, r.path, r.body === undefined ? {} : { body: r.body });
          answers.push(a);
          expectStatus(misses, `${r.method} ${r.path.split("?")[0]}`, a, ...r.ok);
        }
        await check?.(w, hidden, answers, misses);
        return { answers, misses };
      };
    },
  };
}

const checkoutPath = (w: ApiWorld) => `/v1/checkouts/${w.victim.checkoutId}`;
/** Seeing is fine when holders are shown; when hidden, refused (403/404) or blanked (200, which the leak scan checks). */
const readable = (hidden: boolean) => (hidden ? [200, 403, 404] : [200]);

/** A Slack ID no one has used (another in each mode): a lookup must not make them a person. */
const nobody = (hidden: boolean) => (hidden ? "UZZZ00002" : "UZZZ00001");

export const OTHERS_CASES: ApiCase[] = [
  aimed("check in someone else's checkout by its id", (w) => [{ method: "DELETE", path: checkoutPath(w), ok: [403] }]),
  aimed("force-check-in someone else's checkout without being an admin", (w) => [{ method: "DELETE", path: `${checkoutPath(w)}?force=true`, ok: [403] }]),
  aimed("extend someone else's lease, or pin it", (w) => [
    { method: "POST", path: `${checkoutPath(w)}/extend`, body: { by: "1h" }, ok: [403] },
    { method: "POST", path: `${checkoutPath(w)}/extend`, body: { pin: true }, ok: [403] },
  ]),
  aimed("read someone else's checkout by its id", (w, hidden) => [{ method: "GET", path: checkoutPath(w), ok: hidden ? [403, 404] : [200] }]),
  aimed(
    "list checkouts filtered to someone else (user=)",
    (w, hidden) => [
      { method: "GET", path: `/v1/checkouts?user=${w.victim.slackId}`, ok: readable(hidden) },
      { method: "GET", path: `/v1/checkouts?user=${w.victim.slackId}&open=true`, ok: readable(hidden) },
    ],
    async (_w, hidden, answers, misses) => {
      if (hidden) answers.forEach((a, i) => expectNothingOfOthers(misses, `filter ${i + 1}`, a));
    },
  ),
  aimed(
    "list bookings filtered to someone else (user=)",
    (w, hidden) => [{ method: "GET", path: `/v1/reservations?user=${w.victim.slackId}`, ok: readable(hidden) }],
    async (_w, hidden, answers, misses) => {
      if (hidden && answers[0]) expectNothingOfOthers(misses, "the filter", answers[0]);
    },
  ),
  aimed("read someone else's booking by its label", (w, hidden) => [{ method: "GET", path: `/v1/reservations?label=${w.victim.label}`, ok: readable(hidden) }]),
  aimed("cancel someone else's booking by its label", (w) => [{ method: "DELETE", path: `/v1/reservations/${w.victim.label}`, ok: [403] }]),
  aimed("read the history of a VM someone holds", (w, hidden) => [{ method: "GET", path: `/v1/vms/${w.victim.vm}/events`, ok: hidden ? [403] : [200] }]),
  aimed(
    "list someone else's tokens, and revoke theirs by id",
    (w) => [
      { method: "GET", path: `/v1/tokens?user=${w.victim.slackId}`, ok: [403, 404] },
      { method: "DELETE", path: `/v1/tokens/${w.victim.tokenId}`, ok: [404] },
    ],
    async (w, _hidden, _answers, misses) => {
      const still = await call(w.url, w.victim.token, "GET", "/v1/me");
      if (still.status !== 200) misses.push(`the victim's own token now answers ${still.status}`);
    },
  ),
  aimed("filter by a Slack ID nobody has used (checkouts, bookings, tokens)", (_w, hidden) => [
    { method: "GET", path: `/v1/checkouts?user=${nobody(hidden)}`, ok: [200, 404] },
    { method: "GET", path: `/v1/reservations?user=${nobody(hidden)}`, ok: [200, 404] },
    { method: "GET", path: `/v1/tokens?user=${nobody(hidden)}`, ok: [403, 404] },
  ]),
  aimed("list VMs and read the quarantined one (its cleanup output is for admins)", (w) => [
    { method: "GET", path: "/v1/vms", ok: [200] },
    { method: "GET", path: `/v1/vms/${w.quarantined.vm}`, ok: [200] },
    { method: "GET", path: `/v1/vms?pool=${w.victimPool}&state=quarantined`, ok: [200] },
  ]),
  aimed("list everything a token may list (VMs, pools, bookings, checkouts, queues)", (w) => [
    { method: "GET", path: "/v1/vms", ok: [200] },
    { method: "GET", path: `/v1/vms/${w.victim.vm}`, ok: [200] },
    { method: "GET", path: "/v1/pools", ok: [200] },
    { method: "GET", path: `/v1/pools/${w.victimPool}`, ok: [200] },
    { method: "GET", path: "/v1/reservations?all=true", ok: [200] },
    { method: "GET", path: "/v1/checkouts", ok: [200] },
    { method: "GET", path: "/v1/queues", ok: [200] },
  ]),
];
