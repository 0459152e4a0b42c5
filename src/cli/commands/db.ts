import { done, type Command } from "../command.js";

/**
 * `vmres db migrate`. Every command migrates before it runs (cheap when up to
 * date), so this one only reports what that did.
 */
export const dbMigrateCommand: Command = {
  words: ["db", "migrate"],
  positionals: [],
  options: {},
  summary: "Apply pending database migrations (every command also does this first).",
  prepare() {
    return async ({ migrations }) =>
      done(
        migrations,
        migrations.applied > 0
          ? `Applied ${migrations.applied} migration${migrations.applied === 1 ? "" : "s"}; the database is up to date (${migrations.total} in all).`
          : `The database is up to date (${migrations.total} migrations applied earlier).`,
      );
  },
};
