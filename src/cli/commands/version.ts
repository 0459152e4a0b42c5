import { readFileSync } from "node:fs";
import { join } from "node:path";
import { done, type StandalonePrepare } from "../command.js";
import { INSTALL_ROOT } from "../install-root.js";

/** `vmres version` and `vmres --version`: the version in this installation's package.json, the one npm installed. */
export const prepareVersion: StandalonePrepare = () => {
  const { version } = JSON.parse(readFileSync(join(INSTALL_ROOT, "package.json"), "utf8")) as { version: string };
  return () => Promise.resolve(done({ version }, version));
};
