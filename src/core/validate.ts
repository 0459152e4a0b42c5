import { isIP } from "node:net";
import type { Refusal } from "./types.js";
import { FINGERPRINT, NAME, PERSON_NAME, SLACK_USER_ID, SSH_USER, TAG } from "./names.js";

/**
 * Input checks with messages aimed at the person who typed the value. Each
 * returns null when the value is fine, or a refusal saying what would be right.
 */

// Adapters pass what arrived; a missing or non-text value is answered like any other bad value, never thrown on.
const shown = (value: unknown) => (typeof value === "string" ? JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value) : "(nothing)");
const invalid = (field: string, message: string): Refusal => ({ code: "invalid_input", field, message });

export function checkVmName(value: string, field = "vm"): Refusal | null {
  return NAME.test(value)
    ? null
    : invalid(field, `${shown(value)} is not a VM name: use 1-63 lowercase letters, digits, "-" or ".", starting with a letter or digit`);
}

export function checkPoolName(value: string, field = "pool"): Refusal | null {
  return NAME.test(value)
    ? null
    : invalid(field, `${shown(value)} is not a pool name: use 1-63 lowercase letters, digits, "-" or ".", starting with a letter or digit`);
}

export function checkUserId(value: string, field = "user"): Refusal | null {
  return SLACK_USER_ID.test(value) ? null : invalid(field, `${shown(value)} is not a Slack user ID (like U012ABCDEF)`);
}

export function checkPersonName(value: string, field = "name"): Refusal | null {
  return PERSON_NAME.test(value)
    ? null
    : invalid(field, `${shown(value)} is not a person's name: use 1-64 letters, digits, "_", "." or "-", starting with a letter or digit (like alice or ci-nightly)`);
}

/** Free text a person writes (a checkout's note): one line of at most 500 characters. */
export function checkNote(value: string, field = "note"): Refusal | null {
  if (typeof value !== "string" || value.trim() === "") return invalid(field, "write a few words, or leave it out");
  if (value.length > 500) return invalid(field, `that is ${value.length} characters; keep it to 500`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return invalid(field, "use one line of plain text (no control characters)");
  return null;
}

export function checkIp(value: string, field = "ip"): Refusal | null {
  return isIP(value) ? null : invalid(field, `${shown(value)} is not an IPv4 or IPv6 address`);
}

export function checkSshPort(value: number, field = "ssh port"): Refusal | null {
  return Number.isInteger(value) && value >= 1 && value <= 65535
    ? null
    : invalid(field, `${value} is not a TCP port: use a whole number from 1 to 65535`);
}

export function checkSshUser(value: string, field = "ssh user"): Refusal | null {
  return SSH_USER.test(value) ? null : invalid(field, `${shown(value)} is not a Unix user name (lowercase, up to 32 characters)`);
}

export function checkFingerprint(value: string, field = "host key"): Refusal | null {
  return FINGERPRINT.test(value)
    ? null
    : invalid(field, `${shown(value)} is not a host key fingerprint: expected SHA256: followed by 43 base64 characters, as ssh-keygen -lf prints`);
}

export function checkTag(value: string, field = "tags"): Refusal | null {
  return TAG.test(value) ? null : invalid(field, `${shown(value)} is not a tag: use up to 63 letters, digits, "_", ".", ":", "=" or "-"`);
}

/** The first refusal among several checks, or null when all pass. */
export function firstRefusal(...checks: (Refusal | null)[]): Refusal | null {
  return checks.find((c) => c !== null) ?? null;
}
