import type { Refusal } from "./types.js";

const LABEL = /^[a-z0-9][a-z0-9.-]{0,62}$/;

/** A booking's label: the same rules as a pool's name (checked by the database too). */
export function checkLabel(value: string, field = "label"): Refusal | null {
  return typeof value === "string" && LABEL.test(value)
    ? null
    : {
        code: "invalid_input",
        field,
        message: `${JSON.stringify(String(value).slice(0, 40))} is not a label: use 1-63 lowercase letters, digits, "-" or ".", starting with a letter or digit (like release-4.2)`,
      };
}
