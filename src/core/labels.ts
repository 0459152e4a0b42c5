import type { Refusal } from "./types.js";
import { NAME } from "./names.js";


/** A booking's label: the same rules as a pool's name (checked by the database too). */
export function checkLabel(value: string, field = "label"): Refusal | null {
  return typeof value === "string" && NAME.test(value)
    ? null
    : {
        code: "invalid_input",
        field,
        message: `${JSON.stringify(String(value).slice(0, 40))} is not a label: use 1-63 lowercase letters, digits, "-" or ".", starting with a letter or digit (like release-4.2)`,
      };
}
