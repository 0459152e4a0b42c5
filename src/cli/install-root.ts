import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The vmres installation folder: the package root, found from this file
 * (dist/cli/install-root.js or src/cli/install-root.ts, two levels down), not from
 * the folder the CLI is run in. The bot runs there (`npm start`), so its
 * `.env`, its embedded database and its vms.yml are found there.
 */
export const INSTALL_ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
