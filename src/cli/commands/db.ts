import { migrateDatabase } from "../../db/client.js";
import { schemaVersion } from "../../db/schema-version.js";
import { done, type Prepare } from "../command.js";
import { schemaFailure } from "../database.js";

/**
 * `vmres db migrate`: applies the migrations this vmres ships that the database
 * lacks (other commands only check, and refuse to run on an outdated schema).
 * Concurrent runs queue on the migration lock; one past LOCK_TIMEOUT_MS exits 4.
 */
export const prepareDbMigrate: Prepare = () => async ({ database }) => {
  const before = await schemaVersion(database.sql);
  // Drizzle would apply nothing and say nothing; the operator should hear that this vmres is the old one.
  if (before.state === "newer") return schemaFailure(before);
  await migrateDatabase(database);
  const after = await schemaVersion(database.sql);
  const applied = after.applied - before.applied;
  return done(
    { applied, total: after.applied },
    applied > 0
      ? `Applied ${applied} migration${applied === 1 ? "" : "s"}; the database is up to date (${after.applied} in all).`
      : `The database is up to date (${after.applied} migrations applied earlier).`,
  );
};
