import type { Person } from "../../core/people.js";
import { outcomeOf, type Prepare } from "../command.js";
import { UsageError } from "../args.js";
import { table } from "../table.js";
import { adminActor, flag, personNameArg, slackIdOption, userOf } from "../values.js";
import { vmresCommand } from "../invocation.js";

/** `vmres people list`: everyone vmres knows, admins first. */
export const preparePeopleList: Prepare = () => async ({ core }) => {
  const { listPeople } = await import("../../core/people.js");
  // Direct mode reads the database itself: it lists as the operator.
  return outcomeOf(await listPeople(core, { person: "operator", source: "cli" }), null, describe);
};

/** `vmres people add NAME [--slack-id U…] [--service] [--admin]`. */
export const preparePeopleAdd: Prepare = (input) => {
  const name = personNameArg(input, "NAME");
  const slackUserId = slackIdOption(input);
  const kind = flag(input, "service") ? ("service" as const) : ("person" as const);
  const admin = flag(input, "admin");
  const actor = adminActor(input);
  return async ({ core }) => {
    const { addPerson } = await import("../../core/people.js");
    return outcomeOf(await addPerson(core, actor, { name, slackUserId, kind, admin }), userOf(actor), (p) =>
      p.adopted
        ? `${p.name} is the person vmres knew by Slack ID ${p.slackUserId ?? ""}; their holdings and history stay theirs.`
        : `Added ${kind === "service" ? "service" : "person"} ${p.name}${p.slackUserId ? ` (Slack ${p.slackUserId})` : ""}${admin ? ", an admin" : ""}.`,
    );
  };
};

/** `vmres people admin NAME on|off`. */
export const preparePeopleAdmin: Prepare = (input) => {
  const who = input.args["NAME"] ?? "";
  const setting = input.args["SETTING"];
  if (setting !== "on" && setting !== "off") throw new UsageError(`say on or off, not ${JSON.stringify(setting ?? "")}: ${vmresCommand()} people admin NAME on|off`);
  const actor = adminActor(input);
  return async ({ core }) => {
    const { setAdmin } = await import("../../core/people.js");
    return outcomeOf(await setAdmin(core, actor, who, setting === "on"), userOf(actor), (r) =>
      r.changed ? `${r.person.name} is ${r.admin ? "now an admin" : "no longer an admin"}.` : `${r.person.name} ${r.admin ? "was already an admin" : "was not an admin"}; nothing changed.`,
    );
  };
};

function describe(people: Person[]): string {
  // The SIGN-IN column (vmres people link) only once someone has one: most installs sign in with Slack or a token.
  const linked = people.some((p) => p.signInIdentity !== null);
  return table(
    ["NAME", "DISPLAY NAME", "SLACK ID", "KIND", "ADMIN", "HOLDING", ...(linked ? ["SIGN-IN"] : [])],
    people.map((p) => [p.name, p.displayName ?? "-", p.slackUserId ?? "-", p.kind, p.isAdmin ? "yes" : "-", String(p.holding), ...(linked ? [p.signInIdentity ?? "-"] : [])]),
  );
}

/** `vmres people link NAME IDENTITY`: the OpenID Connect identity that signs NAME in to the web page. */
export const preparePeopleLink: Prepare = (input) => {
  const who = input.args["NAME"] ?? "";
  const identity = input.args["IDENTITY"] ?? "";
  const actor = adminActor(input);
  return async ({ core }) => {
    const { linkSignIn } = await import("../../core/sign-in.js");
    return outcomeOf(await linkSignIn(core, actor, who, identity), userOf(actor), (r) =>
      !r.changed
        ? `${r.person.name} already signs in as ${identity}; nothing changed.`
        : `${r.person.name} now signs in to the web page as ${identity}${r.previous ? ` (was ${r.previous}; its web sessions ended)` : ""}.`,
    );
  };
};

/** `vmres people unlink NAME`: no OpenID Connect identity signs NAME in any more. */
export const preparePeopleUnlink: Prepare = (input) => {
  const who = input.args["NAME"] ?? "";
  const actor = adminActor(input);
  return async ({ core }) => {
    const { linkSignIn } = await import("../../core/sign-in.js");
    return outcomeOf(await linkSignIn(core, actor, who, null), userOf(actor), (r) =>
      r.changed ? `${r.person.name} no longer signs in as ${r.previous ?? ""}; the web sessions it opened ended.` : `${r.person.name} had no sign-in identity; nothing changed.`,
    );
  };
};
