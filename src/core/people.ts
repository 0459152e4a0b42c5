import type postgres from "postgres";
import type { PersonKind } from "../db/schema.js";
import { ok, refuse, type Actor, type Core, type PersonRef, type PersonTag, type Result } from "./types.js";

export type { PeopleCache, PersonTag } from "./types.js";
import { checkNote, checkPersonName, checkUserId, firstRefusal } from "./validate.js";

/** A person as `vmres people list` shows them. */
export interface Person extends PersonTag {
  kind: PersonKind;
  isAdmin: boolean;
  /** VMs held now. */
  holding: number;
  profileFetchedAt: Date | null;
  /** What signs them in to the web page with OpenID Connect (`vmres people link`), if anything. */
  signInIdentity: string | null;
}

/** The built-in people: vmres itself, and the operator of the CLI on the bot's machine. */
export const SYSTEM = "system";
export const OPERATOR = "operator";

type Row = { id: number; name: string; slack_user_id: string | null; display_name: string | null };
const tag = (r: Row): PersonTag => ({ id: r.id, name: r.name, slackUserId: r.slack_user_id, displayName: r.display_name });

/** "Alice Smith (alice, U012ABCDEF)", "ci-nightly": who, as a listing names them. */
export function personText(p: Pick<PersonTag, "name" | "slackUserId" | "displayName">): string {
  if (p.name === SYSTEM || p.name === OPERATOR) return p.name;
  const ids = [p.name, p.slackUserId].filter((x, i, all): x is string => x !== null && all.indexOf(x) === i);
  return p.displayName ? `${p.displayName} (${ids.join(", ")})` : ids.join(" / ");
}

/**
 * The person an actor stands for. Someone first seen in Slack (`slackUserId`:
 * a request Slack signed) becomes a person on the spot, named by their Slack ID
 * until an operator names them. A `lookup` (a name or Slack ID someone typed:
 * an API filter, a CLI --user) only finds: it never writes, so reading
 * `?user=UZZZ00001` creates nobody (SLACK_ADMINS excepted: they
 * exist by configuration). A caller that may create a Slack user
 * someone names (an admin giving them something) passes `{ slackUserId }`.
 */
export async function resolvePerson(core: Core, ref: PersonRef): Promise<Result<PersonTag>> {
  const sql = core.db.$client;
  if (ref === SYSTEM || ref === OPERATOR) return named(sql, ref);
  if ("id" in ref) {
    if (ref.known?.id === ref.id) return ok(ref.known);
    const [row] = await sql<Row[]>`select id, name, slack_user_id, display_name from people where id = ${ref.id}`;
    return row ? ok(tag(row)) : refuse({ code: "unknown_person", who: String(ref.id) });
  }
  if ("slackUserId" in ref) {
    const bad = checkUserId(ref.slackUserId);
    if (bad) return refuse(bad);
    const cached = core.people.get(ref.slackUserId);
    if (cached) return ok(cached);
    // Read, else insert, else read again: when two first requests of one person race, the insert of
    // the second waits for the first and does nothing, and only a new statement sees the row it made.
    const read = () => sql<Row[]>`select id, name, slack_user_id, display_name from people where slack_user_id = ${ref.slackUserId}`;
    let [row] = await read();
    if (!row) {
      [row] = await sql<Row[]>`
        insert into people (name, slack_user_id) values (${ref.slackUserId}, ${ref.slackUserId})
        on conflict do nothing returning id, name, slack_user_id, display_name`;
    }
    if (!row) [row] = await read();
    if (!row) return refuse({ code: "unknown_person", who: ref.slackUserId });
    const found = tag(row);
    core.people.set(ref.slackUserId, found);
    return ok(found);
  }
  const found = await lookup(sql, ref.lookup);
  // SLACK_ADMINS are people by configuration (the service records them at start): a CLI run before
  // the service ever started may name one, who is then recorded as the service would.
  if (!found.ok && found.refusal.code === "unknown_person" && core.bootstrapAdmins.has(ref.lookup)) return resolvePerson(core, { slackUserId: ref.lookup });
  return found;
}

async function named(sql: postgres.Sql, name: typeof SYSTEM | typeof OPERATOR): Promise<Result<PersonTag>> {
  // The two names are constants, written into the statement: a statement with parameters costs
  // postgres.js a round trip more on a new connection (it asks the server their types first),
  // and every CLI call is a new connection that reads the operator.
  const [row] =
    name === OPERATOR
      ? await sql<Row[]>`select id, name, slack_user_id, display_name from people where name = 'operator'`
      : await sql<Row[]>`select id, name, slack_user_id, display_name from people where name = 'system'`;
  return row ? ok(tag(row)) : refuse({ code: "unknown_person", who: name });
}

/** A name, a Slack user ID, or a display name that names exactly one person (case-insensitive). */
export async function lookup(sql: postgres.Sql, who: string): Promise<Result<PersonTag>> {
  if (typeof who !== "string" || who.trim() === "" || who.length > 200) {
    return refuse({ code: "invalid_input", field: "user", message: "name a person by their name or Slack user ID (like U012ABCDEF)" });
  }
  const rows = await sql<(Row & { how: number })[]>`
    select id, name, slack_user_id, display_name, 1 as how from people where name = ${who} or slack_user_id = ${who}
    union all
    select id, name, slack_user_id, display_name, 2 from people where lower(name) = lower(${who}) or lower(display_name) = lower(${who})
    order by how, id limit 3`;
  const exact = rows.find((r) => r.how === 1);
  if (exact) return ok(tag(exact));
  const loose = [...new Map(rows.map((r) => [r.id, r])).values()];
  if (loose.length === 1 && loose[0]) return ok(tag(loose[0]));
  if (loose.length > 1) return refuse({ code: "ambiguous_person", who, matches: loose.map((r) => r.name) });
  return refuse({ code: "unknown_person", who });
}

/** Listed in SLACK_ADMINS: an admin whatever the database says. */
export const isBootstrapAdmin = (core: Core, person: PersonTag): boolean =>
  person.slackUserId !== null && core.bootstrapAdmins.has(person.slackUserId);

/**
 * The actor as a person, if they may run an admin operation: read now, from
 * the database, so a change of who is admin applies at once in every process.
 */
export async function asAdmin(core: Core, actor: Actor, operation: string): Promise<Result<PersonTag>> {
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  if (actor.person === OPERATOR || isBootstrapAdmin(core, me.value)) return me;
  const [row] = await core.db.$client<{ is_admin: boolean }[]>`select is_admin from people where id = ${me.value.id}`;
  return row?.is_admin ? me : refuse({ code: "not_admin", operation });
}

/** Whether the actor may run admin operations. */
export async function isAdmin(core: Core, actor: Actor): Promise<boolean> {
  return (await asAdmin(core, actor, "")).ok;
}

/** Every person, admins first, then by name: for admins only. */
export async function listPeople(core: Core, viewer: Actor): Promise<Result<Person[]>> {
  const admin = await asAdmin(core, viewer, "list people");
  if (!admin.ok) return admin;
  const rows = await core.db.$client<(Row & { kind: PersonKind; is_admin: boolean; holding: number; profile_fetched_at: Date | null; sign_in_identity: string | null })[]>`
    select p.id, p.name, p.slack_user_id, p.display_name, p.kind, p.is_admin, p.profile_fetched_at, p.sign_in_identity,
           (select count(*)::int from checkouts c where c.person_id = p.id and c.ended_at is null) as holding
    from people p order by p.is_admin desc, p.name`;
  return ok(rows.map((r) => ({ ...tag(r), kind: r.kind, isAdmin: r.is_admin, holding: r.holding, profileFetchedAt: r.profile_fetched_at, signInIdentity: r.sign_in_identity })));
}

export interface NewPerson {
  name: string;
  slackUserId?: string | undefined;
  kind: PersonKind;
  admin: boolean;
  displayName?: string | undefined;
}

/**
 * Admin: adds a person or a service. A Slack ID vmres already met (a person
 * named by their Slack ID so far) is given this name instead of a second row.
 */
export async function addPerson(core: Core, actor: Actor, spec: NewPerson): Promise<Result<PersonTag & { adopted: boolean }>> {
  const me = await asAdmin(core, actor, "add a person");
  if (!me.ok) return me;
  const bad = firstRefusal(
    checkPersonName(spec.name),
    spec.slackUserId === undefined ? null : checkUserId(spec.slackUserId, "slack-id"),
    spec.displayName === undefined ? null : checkNote(spec.displayName, "display name"),
  );
  if (bad) return refuse(bad);
  if (checkUserId(spec.name) === null && spec.slackUserId !== spec.name) {
    return refuse({ code: "invalid_input", field: "name", message: `${spec.name} looks like a Slack user ID; such names are kept for that Slack user (give --slack-id ${spec.name}, or another name)` });
  }
  return core.db.$client.begin(async (tx) => {
    const [taken] = await tx<Row[]>`select id, name, slack_user_id, display_name from people where name = ${spec.name} for update`;
    if (taken) return refuse({ code: "person_exists", who: spec.name });
    if (spec.slackUserId !== undefined) {
      const [known] = await tx<Row[]>`select id, name, slack_user_id, display_name from people where slack_user_id = ${spec.slackUserId} for update`;
      if (known && known.name !== known.slack_user_id) return refuse({ code: "person_exists", who: known.name });
      if (known) {
        const [row] = await tx<Row[]>`
          update people set name = ${spec.name}, kind = ${spec.kind}, is_admin = is_admin or ${spec.admin},
            display_name = coalesce(${spec.displayName ?? null}, display_name)
          where id = ${known.id} returning id, name, slack_user_id, display_name`;
        return ok({ ...tag(row as Row), adopted: true });
      }
    }
    const [row] = await tx<Row[]>`
      insert into people (name, slack_user_id, kind, is_admin, display_name)
      values (${spec.name}, ${spec.slackUserId ?? null}, ${spec.kind}, ${spec.admin}, ${spec.displayName ?? null})
      returning id, name, slack_user_id, display_name`;
    return ok({ ...tag(row as Row), adopted: false });
  });
}

/** Admin: makes a person an admin or not. The built-ins keep what they are. */
export async function setAdmin(core: Core, actor: Actor, who: string, admin: boolean): Promise<Result<{ person: PersonTag; admin: boolean; changed: boolean }>> {
  const me = await asAdmin(core, actor, "change who is an admin");
  if (!me.ok) return me;
  const person = await lookup(core.db.$client, who);
  if (!person.ok) return person;
  if (person.value.name === SYSTEM || person.value.name === OPERATOR) {
    return refuse({ code: "invalid_input", field: "user", message: `${person.value.name} is built in; its rights cannot change` });
  }
  if (!admin && person.value.slackUserId !== null && core.bootstrapAdmins.has(person.value.slackUserId)) {
    return refuse({ code: "invalid_input", field: "user", message: `${person.value.name} is listed in SLACK_ADMINS, which makes them an admin at every start: remove them there first` });
  }
  const changed = await core.db.$client`update people set is_admin = ${admin} where id = ${person.value.id} and is_admin <> ${admin}`;
  return ok({ person: person.value, admin, changed: changed.count > 0 });
}

/** At start: the Slack IDs of SLACK_ADMINS are admins (the bootstrap; `vmres people admin` manages the rest). */
export async function applyAdminBootstrap(core: Core, slackIds: readonly string[]): Promise<void> {
  if (slackIds.length === 0) return;
  await core.db.$client`
    insert into people (name, slack_user_id, is_admin)
    select id, id, true from unnest(${slackIds as string[]}::text[]) as id
    on conflict (slack_user_id) do update set is_admin = true`;
}

/**
 * Slack profile names (and time zones, IANA names like Europe/Paris, for times
 * in messages) learned by the adapter, cached in the database for listings and messages.
 */
export async function recordDisplayName(core: Core, slackUserId: string, displayName: string, timeZone?: string | null): Promise<void> {
  const name = displayName.trim().slice(0, 200);
  if (name === "" || checkUserId(slackUserId)) return;
  const zone = timeZone && isTimeZone(timeZone) ? timeZone : null;
  await core.db.$client`update people set display_name = ${name}, time_zone = coalesce(${zone}, time_zone), profile_fetched_at = now() where slack_user_id = ${slackUserId}`;
}

/** A time zone this runtime can format in (Intl knows it). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return zone.length <= 64;
  } catch {
    return false;
  }
}

/** A person's time zone as Slack last told it (null: unknown; messages then say UTC). */
export async function timeZoneOf(core: Core, personId: number): Promise<string | null> {
  const [row] = await core.db.$client<{ time_zone: string | null }[]>`select time_zone from people where id = ${personId}`;
  return row?.time_zone ?? null;
}

/** The time zone of whoever has this Slack ID (null: unknown, or nobody vmres has recorded yet). */
export async function timeZoneOfSlackUser(core: Core, slackUserId: string): Promise<string | null> {
  const [row] = await core.db.$client<{ time_zone: string | null }[]>`select time_zone from people where slack_user_id = ${slackUserId}`;
  return row?.time_zone ?? null;
}

/**
 * How much longer a Slack user's learned name counts as fresh, in ms on the
 * database's clock (≤ 0: it is older than `maxAgeHours`); null if it was never
 * learned; undefined if vmres has no person with that Slack ID (not recorded yet).
 */
export async function profileFreshForMs(core: Core, slackUserId: string, maxAgeHours: number): Promise<number | null | undefined> {
  const [row] = await core.db.$client<{ fresh_for_ms: number | null }[]>`
    select (extract(epoch from profile_fetched_at + make_interval(hours => ${maxAgeHours}) - now()) * 1000)::float8 as fresh_for_ms
    from people where slack_user_id = ${slackUserId}`;
  return row === undefined ? undefined : row.fresh_for_ms;
}

/** Slack IDs whose display name is unknown or older than maxAgeHours, at most `limit`. */
export async function staleProfiles(core: Core, maxAgeHours: number, limit: number): Promise<string[]> {
  const rows = await core.db.$client<{ slack_user_id: string }[]>`
    select slack_user_id from people where slack_user_id is not null
      and (profile_fetched_at is null or profile_fetched_at < now() - make_interval(hours => ${maxAgeHours}))
    order by profile_fetched_at nulls first limit ${limit}`;
  return rows.map((r) => r.slack_user_id);
}

/**
 * Whose things a listing of one's own shows (tokens, saved images): the viewer's own, or, for an
 * admin, everyone's (null); `user` (a name or Slack ID) narrows it to one person's, which only an
 * admin may ask of someone else (`not_admin`, saying `operation`).
 */
export async function whoseListing(core: Core, viewer: Actor, user: string | undefined, operation: string): Promise<Result<number | null>> {
  const me = await resolvePerson(core, viewer.person);
  if (!me.ok) return me;
  const admin = await asAdmin(core, viewer, operation);
  if (user === undefined) return ok(admin.ok ? null : me.value.id);
  const named = await resolvePerson(core, { lookup: user });
  if (!named.ok) return named;
  if (!admin.ok && named.value.id !== me.value.id) return admin;
  return ok(named.value.id);
}
