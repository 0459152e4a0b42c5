/*
 * Starts or removes sshd test hosts by hand, e.g. to try the cleanup command
 * or the bot against real sshd:
 *
 *   npx tsx test/lab/cli.ts up 3    # hosts keep running after this exits
 *   npx tsx test/lab/cli.ts down    # removes every kept host and any leftover
 */
import { cleanupLeftovers, startLab } from "./lab.js";

const USAGE = "usage: npx tsx test/lab/cli.ts up N | down";

async function main(args: string[]): Promise<number> {
  const [command, countArg] = args;
  if (command === "up") {
    const count = Number(countArg ?? "1");
    if (!Number.isInteger(count) || count < 1) {
      console.error(`"${countArg}" is not a number of hosts.\n${USAGE}`);
      return 2;
    }
    const started = Date.now();
    const lab = await startLab({ count, keep: true });
    console.log(`${lab.hosts.length} hosts up in ${Date.now() - started} ms; client key ${lab.clientKeyPath}`);
    for (const host of lab.hosts) {
      console.log(`${host.name}\t${host.user}@${host.ip}:${host.port}\t${host.hostKeyFingerprint}`);
    }
    console.log(`ssh -i ${lab.clientKeyPath} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@${lab.hosts[0]?.ip}`);
    return 0;
  }
  if (command === "down") {
    const removed = await cleanupLeftovers({ includeKept: true });
    console.log(`removed ${removed.netns.length} namespaces, ${removed.links.length} links, ${removed.slots.length} slots`);
    return 0;
  }
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
