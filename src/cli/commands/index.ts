import type { Command } from "../command.js";
import { checkinCommand } from "./checkin.js";
import { checkoutCommand } from "./checkout.js";
import { cleanupRetryCommand } from "./cleanup.js";
import { dbMigrateCommand } from "./db.js";
import { historyCommand } from "./history.js";
import { listCommand } from "./list.js";
import { poolAddCommand, poolDrainCommand, poolRemoveCommand, poolRepairCommand } from "./pool.js";
import { poolSyncCommand } from "./pool-sync.js";
import { statusCommand } from "./status.js";

/** Every `vmres` command, in the order help lists them. */
export const commands: Command[] = [
  checkoutCommand,
  checkinCommand,
  listCommand,
  statusCommand,
  historyCommand,
  poolAddCommand,
  poolRemoveCommand,
  poolDrainCommand,
  poolRepairCommand,
  poolSyncCommand,
  cleanupRetryCommand,
  dbMigrateCommand,
];
