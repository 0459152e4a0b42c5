import type { TokenInfo } from "../../core/tokens.js";
import { UsageError } from "../args.js";
import { outcomeOf, type Prepare } from "../command.js";
import { table, when } from "../table.js";
import { parseDuration } from "../../duration.js";
import { optionalUser, requiredUser, stringValue } from "../values.js";
import { vmresCommand } from "../invocation.js";

// The token commands run as the local operator (an admin: whoever can run the CLI here holds the
// database's credentials); --user names whom the token is for, not who acts.
const OPERATOR = { person: "operator", source: "cli" } as const;

/** `vmres token create --user NAME [--label L] [--expires 90d]`: prints the token, once (MAX_TOKEN_LIFETIME bounds --expires and is the default). */
export const prepareTokenCreate: Prepare = (input) => {
  const user = requiredUser(input);
  const label = stringValue(input, "label");
  if (label !== undefined && (label.trim() === "" || label.length > 100)) throw new UsageError("--label: write a few words, at most 100 characters");
  const expiresText = stringValue(input, "expires");
  const expiresMs = expiresText === undefined ? undefined : parseDuration(expiresText.trim());
  if (expiresMs === null || (expiresMs !== undefined && (expiresMs < 60_000 || expiresMs > 3650 * 86_400_000))) {
    throw new UsageError(`--expires: ${JSON.stringify(expiresText)} is not a lifetime: a token lives from 1m to 3650d, written like 90d, 12h or 1d12h`);
  }
  return async ({ core }) => {
    const { createToken } = await import("../../core/tokens.js");
    return outcomeOf(await createToken(core, OPERATOR, { user, label, expiresMs }), null, (t) =>
      [
        `Token ${t.id} for ${t.person.name}${t.label ? ` (${t.label})` : ""}, ${t.expiresAt ? `expires ${when(t.expiresAt)}` : "never expires"}:`,
        "",
        `  ${t.token}`,
        "",
        "It is shown this once (vmres keeps only its hash). Use it as: Authorization: Bearer <token>, or VMRES_TOKEN.",
        `Revoke it with: ${vmresCommand()} token revoke ${t.id}`,
      ].join("\n"),
    );
  };
};

/** `vmres token list [--user NAME]`: never the values. */
export const prepareTokenList: Prepare = (input) => {
  const user = optionalUser(input);
  return async ({ core }) => {
    const { listTokens } = await import("../../core/tokens.js");
    return outcomeOf(await listTokens(core, OPERATOR, { user }), null, describe);
  };
};

/** `vmres token revoke ID`. */
export const prepareTokenRevoke: Prepare = (input) => {
  const text = input.args["ID"] ?? "";
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw new UsageError(`${JSON.stringify(text)} is not a token id: a whole number, as ${vmresCommand()} token list shows`);
  const id = Number(text);
  return async ({ core }) => {
    const { revokeToken } = await import("../../core/tokens.js");
    return outcomeOf(await revokeToken(core, OPERATOR, id), null, (r) => {
      const heirs = r.alsoRevoked.length === 0 ? "" : ` Also revoked, as made with it: token${r.alsoRevoked.length === 1 ? "" : "s"} ${r.alsoRevoked.join(", ")}.`;
      if (r.alreadyRevoked) return r.alsoRevoked.length === 0 ? `Token ${r.id} of ${r.person} was already revoked; nothing changed.` : `Token ${r.id} of ${r.person} was already revoked.${heirs}`;
      return `Revoked token ${r.id} of ${r.person}: it is refused from now on.${heirs}`;
    });
  };
};

function describe(tokens: TokenInfo[]): string {
  if (tokens.length === 0) return `No API tokens yet: ${vmresCommand()} token create --user NAME makes one.`;
  return table(
    ["ID", "PERSON", "PREFIX", "LABEL", "CREATED", "EXPIRES", "REVOKED", "LAST USED"],
    tokens.map((t) => [String(t.id), t.person.name, `${t.prefix}…`, t.label ?? "-", when(t.createdAt), t.expiresAt ? when(t.expiresAt) : "never", t.revokedAt ? when(t.revokedAt) : "-", t.lastUsedAt ? when(t.lastUsedAt) : "-"]),
  );
}
