import { context, type Block } from "./blocks.js";
import { escape } from "./format.js";

/** Said at checkout and booking while the pool's cleanup cannot run: what a check-in will do then, and the way out. */
export function cleanupBlockedContext(pool: string): Block {
  return context(
    `:warning: Cleanup is blocked in pool *${escape(pool)}* (vmres cannot use its SSH key): VMs checked in there stay in cleaning ` +
      `until an admin runs \`/vm cleanup done VM reason\` (or \`vmres cleanup done\`) or sets \`/vm pool set ${escape(pool)} --cleanup none\`.`,
  );
}
