import { existsSync } from "node:fs";
import { isIP } from "node:net";
import { expandHome, readPrivateKey } from "../cleanup/private-keys.js";
import { vmresCommand } from "../cli/invocation.js";
import type { Config } from "../config.js";
import { keyFilesInUse } from "../core/cleanup/key-files-in-use.js";
import { inventorySize } from "../core/gauges.js";
import type { Db } from "../db/client.js";
import { slackSettings } from "../slack/settings.js";

/**
 * What a person who has just started vmres does next, said once after start-up
 * (src/service/service.ts logs it): the URLs it answers, how to add VMs and make
 * a token, and each part that is off with the one setting that turns it on.
 */
export interface NextSteps {
  /** Where this service is reached from this machine, like http://localhost:3000. */
  url: string;
  /** The VMs in service and the pools they are in (plus provisioned pools, which may have none yet). */
  vms: number;
  pools: number;
  /** VMS_FILE, and whether it was there to read. */
  vmsFile: string;
  vmsFileRead: boolean;
  /** The command that runs this installation's CLI (`vmres`, or the path of bin/vmres.js). */
  command: string;
  /** Parts that are off or blocked, each with what turns it on. */
  off: string[];
}

/**
 * The address a person types for a listener bound to `host`: a wildcard bind
 * (0.0.0.0, ::) answers on every address of the machine, so localhost reaches
 * it; an IPv6 address goes in brackets.
 */
export function reachableUrl(host: string, port: number): string {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  const wildcard = bare === "" || bare === "0.0.0.0" || (isIP(bare) === 6 && /^[0:]+$/.test(bare));
  const name = wildcard ? "localhost" : isIP(bare) === 6 ? `[${bare}]` : bare;
  return `http://${name}:${port}`;
}

/** Reads what the summary says from the configuration, the database and the key files. */
export async function nextSteps(config: Config, port: number, db: Db): Promise<NextSteps> {
  const counts = await inventorySize(db);
  const off: string[] = [];
  const slack = slackSettings(config);
  if ("off" in slack) off.push(slack.off.replace(/^Slack bot off: /, "Slack bot: "));
  else if (!slack.settings.adminChannel) off.push("admin alerts in Slack: set SLACK_ADMIN_CHANNEL (a channel ID the bot is in) to post quarantines, failures and an exhausted pool there");
  off.push(...(await cleanupOff(config, db)));
  if (config.PROVISION_WORKER === "off") off.push("provisioned pools' jobs in this process: PROVISION_WORKER=on runs them (another replica must, while it is off)");
  if (config.DIGEST_CRON === undefined) off.push('admin digest: set DIGEST_CRON (like "0 9 * * 1-5") to post a daily report to the admin channel');
  if (config.METRICS_TOKEN === undefined) off.push("/metrics from other machines: set METRICS_TOKEN (a bearer token for Prometheus); this machine may always read it");
  return {
    url: reachableUrl(config.HOST, port),
    vms: counts.vms,
    pools: counts.pools,
    vmsFile: config.VMS_FILE,
    vmsFileRead: existsSync(config.VMS_FILE),
    command: vmresCommand(),
    off,
  };
}

/** Cleanup off in this process, or blocked by a private key it cannot use (read now, as the worker reads it). */
async function cleanupOff(config: Config, db: Db): Promise<string[]> {
  if (config.CLEANUP_WORKER === "off") return ["cleanup in this process: CLEANUP_WORKER=on turns it on (while it is off another replica must clean, or checked-in VMs wait in cleaning)"];
  const fallback = expandHome(config.SSH_PRIVATE_KEY_FILE);
  const files = await keyFilesInUse(db, config.SSH_PRIVATE_KEY_FILE);
  const blocked: string[] = [];
  for (const file of new Set(files.map(expandHome))) {
    const read = await readPrivateKey(file);
    if (read.ok) continue;
    const problem = /ENOENT/.test(read.error) ? `no SSH private key at ${file}` : read.error;
    blocked.push(
      file === fallback
        ? `cleanup blocked: ${problem}; put the key there or set SSH_PRIVATE_KEY_FILE to one (checked-in VMs wait in cleaning until then; no restart needed)`
        : `cleanup blocked: ${problem}, the key some pools name in cleanup.ssh_private_key_file; fix that file, or the pools' setting in ${config.VMS_FILE}`,
    );
  }
  return blocked;
}

/** The summary as lines for a person, first line a heading. */
export function describeNextSteps(steps: NextSteps): string {
  const { url, command } = steps;
  const pools = `${steps.pools} pool${steps.pools === 1 ? "" : "s"}`;
  const have = steps.vms === 0 ? "no VMs yet" : `${steps.vms} VM${steps.vms === 1 ? "" : "s"} in ${pools}`;
  const source = steps.vmsFileRead ? `read from ${steps.vmsFile}` : `no file at ${steps.vmsFile} (VMS_FILE)`;
  const add = steps.vmsFileRead
    ? `add VMs to that file (then restart, or run \`${command} pool sync\`), or \`${command} pool add NAME IP [--pool POOL]\``
    : `copy vms.example.yml to ${steps.vmsFile} and restart, or \`${command} pool add NAME IP [--pool POOL]\``;
  const lines = [
    `vmres is ready at ${url}. What next:`,
    `  API:     ${url}/docs (explore and try it; the OpenAPI document is ${url}/openapi.json)`,
    `  health:  ${url}/healthz    metrics: ${url}/metrics`,
    `  VMs:     ${have}, ${source}; ${add}`,
    `  tokens:  \`${command} token create --user NAME\` makes an API token (sent as \`Authorization: Bearer TOKEN\`, or kept by \`${command} login URL\`)`,
    ...steps.off.map((what) => `  off:     ${what}`),
  ];
  return lines.join("\n");
}
