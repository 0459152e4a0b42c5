import type { Core } from "./types.js";

/**
 * The time for a statement to use, as a parameter: the core's clock when a test
 * set one, else null, which statements read as PostgreSQL's now() with
 * `coalesce(${clockAt(core)}::timestamptz, now())`: in service one clock for
 * every replica, the database's.
 */
export const clockAt = (core: Core): string | null => core.clock?.().toISOString() ?? null;

/** A time as a statement parameter (postgres.js binds text; PostgreSQL casts it). */
export const iso = (time: Date | string | null): string | null => (time === null ? null : new Date(time).toISOString());

/** The same time in JavaScript, for decisions and messages made outside SQL (with the host's clock in service). */
export const nowOf = (core: Core): Date => core.clock?.() ?? new Date();
