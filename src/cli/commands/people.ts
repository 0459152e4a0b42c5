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
  return table(
    ["NAME", "DISPLAY NAME", "SLACK ID", "KIND", "ADMIN", "HOLDING"],
    people.map((p) => [p.name, p.displayName ?? "-", p.slackUserId ?? "-", p.kind, p.isAdmin ? "yes" : "-", String(p.holding)]),
  );
}
