/**
 * The one vocabulary of names: each pattern's text is written once, here, and read by the core's
 * checks (src/core/validate.ts, labels.ts, provision/request.ts), the zod schemas (src/config.ts,
 * src/api/schemas.ts, src/inventory/file.ts, the providers' settings), the CLI's option checks,
 * and the database's CHECK constraints (src/db/schema.ts cites the same text; a test compares it
 * with the migrations'). The texts are both JavaScript and PostgreSQL (POSIX) regular
 * expressions: keep to the syntax both read alike (classes, `{m,n}`, anchors).
 */

/** A VM's, a pool's or an instance's name, and a booking's label: 1-63 lowercase letters, digits, "-" or ".", starting with a letter or digit (a DNS label, as providers want). */
export const NAME_PATTERN = "^[a-z0-9][a-z0-9.-]{0,62}$";
/** A saved image's name: as a name, up to 128 characters. */
export const IMAGE_NAME_PATTERN = "^[a-z0-9][a-z0-9.-]{0,127}$";
/** A person's name: 1-64 letters, digits, "_", "." or "-", starting with a letter or digit. */
export const PERSON_NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";
/** A Slack user ID (U… or W… for Enterprise Grid). */
export const SLACK_USER_ID_PATTERN = "^[UW][A-Z0-9]{2,31}$";
/** A Unix login for SSH. */
export const SSH_USER_PATTERN = "^[a-z_][a-z0-9_.-]{0,31}$";
/** An SSH host key's SHA256 fingerprint as OpenSSH prints it. */
export const FINGERPRINT_PATTERN = "^SHA256:[A-Za-z0-9+/]{43}$";
/** A VM's tag (inventory). */
export const TAG_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.:=-]{0,62}$";

export const NAME = new RegExp(NAME_PATTERN);
export const IMAGE_NAME = new RegExp(IMAGE_NAME_PATTERN);
export const PERSON_NAME = new RegExp(PERSON_NAME_PATTERN);
export const SLACK_USER_ID = new RegExp(SLACK_USER_ID_PATTERN);
export const SSH_USER = new RegExp(SSH_USER_PATTERN);
export const FINGERPRINT = new RegExp(FINGERPRINT_PATTERN);
export const TAG = new RegExp(TAG_PATTERN);
