import { readFileSync } from "node:fs";
import { CORE_SCHEMA, load as loadYaml } from "js-yaml";
import { parseDocument, type YAMLError } from "yaml";
import * as z from "zod";
import type { VmSpec } from "../core/admin.js";
import type { PoolSpec } from "../core/sync.js";
import { checkFingerprint, checkIp, checkSshPort, checkSshUser, checkTag } from "../core/validate.js";
import { DURATION_SHAPE, formatDuration, parseDuration } from "../duration.js";
import { InventoryError } from "./inventory-error.js";
import { NAME } from "../core/names.js";

export { InventoryError };

/**
 * The inventory file (vms.yml): pools, their settings, and their VMs.
 * Parsing is all-or-nothing: every problem of the file is reported at once
 * (YAML syntax, shape, values, duplicate names), each naming the entry and
 * field, and nothing is applied while any remains.
 */
const name = z.string().regex(NAME, "use 1-63 lowercase letters, digits, '-' or '.', starting with a letter or digit");

const vmEntry = z.strictObject({
  name,
  ip: z.string().max(64),
  ssh_user: z.string().max(32).optional(),
  ssh_port: z.number().int().min(1).max(65535).optional(),
  host_key: z.string().max(64).nullable().optional(),
  tags: z.array(z.string().max(63)).max(64).optional(),
});

/** A lease length as written in settings (8h, 3d, 1d12h), at least a minute; kept in seconds. */
const lease = z
  .string()
  .refine((text) => (parseDuration(text) ?? 0) >= 60_000, `${DURATION_SHAPE}, at least 1m`)
  .transform((text) => Math.ceil((parseDuration(text) ?? 0) / 1000));

const poolEntry = z.strictObject({
  quota: z.number().int().min(1).max(1000).optional(),
  lease: lease.optional(),
  max_lease: lease.optional(),
  // `none`: VMs come back at check-in without a cleanup (no SSH); `ssh` or the settings object: cleaned over SSH.
  cleanup: z
    .union([
      z.enum(["none", "ssh"]),
      z.strictObject({
        command: z.string().min(1).max(8192).nullable().optional(),
        trust_on_first_use: z.boolean().optional(),
        ssh_private_key_file: z.string().min(1).max(4096).nullable().optional(),
      }),
    ], { error: "use none (no cleanup: VMs come back at check-in), ssh, or the SSH cleanup's settings (command, trust_on_first_use, ssh_private_key_file)" })
    .optional(),
  vms: z.array(vmEntry).max(200_000).default([]),
});

const fileDefaults = z
  .strictObject({
    ssh_user: z.string().max(32).optional(),
    ssh_port: z.number().int().min(1).max(65535).optional(),
    quota: z.number().int().min(1).max(1000).optional(),
    lease: lease.optional(),
    max_lease: lease.optional(),
  })
  .optional();

const inventoryFile = z.strictObject({ defaults: fileDefaults, pools: z.record(name, poolEntry) });

type Defaults = z.infer<typeof fileDefaults>;

/** A parsed inventory, ready for `syncInventory`. */
export interface Inventory {
  pools: PoolSpec[];
  vms: VmSpec[];
}

export function readInventoryFile(path: string, defaultQuota: number): Inventory {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const reason = (err as Error).message;
    throw new InventoryError(path, [reason], `cannot read inventory file ${path}: ${reason}`);
  }
  return parseInventory(text, path, defaultQuota);
}

export function parseInventory(text: string, source: string, defaultQuota: number): Inventory {
  const problems: string[] = [];
  let raw = readQuickly(text);
  if (raw === undefined) {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    // YAML errors do not stop the checks: the document is read as far as it goes,
    // so a duplicate key and a bad IP elsewhere are both reported in this round.
    problems.push(...doc.errors.map(yamlProblem));
    raw = doc.toJS();
  }
  const parsed = inventoryFile.safeParse(raw);
  if (!parsed.success) problems.push(...parsed.error.issues.map((issue) => shapeProblem(raw, issue)));
  problems.push(...valueProblems(raw));
  if (problems.length > 0 || !parsed.success) throw new InventoryError(source, problems);
  const inventory = inventoryOf(parsed.data, defaultQuota);
  const tooLong = inventory.pools.flatMap((p) =>
    p.leaseSeconds !== null && p.maxLeaseSeconds !== null && p.leaseSeconds > p.maxLeaseSeconds
      ? [`pools.${p.name}.lease: ${formatDuration(p.leaseSeconds * 1000)} is longer than its max_lease ${formatDuration(p.maxLeaseSeconds * 1000)}; make the lease at most the maximum`]
      : [],
  );
  if (tooLong.length > 0) throw new InventoryError(source, tooLong);
  return inventory;
}

/**
 * The file read by js-yaml, about 14 times faster than `yaml`'s parseDocument (100,100 VMs:
 * 0.23 s against 3.3 s, most of an unchanged `vmres pool sync`), or undefined when it cannot
 * stand in for it: a file js-yaml refuses (a syntax error, a key written twice) and one with
 * aliases (js-yaml does not bound their expansion) are read again by `yaml`, which reports
 * every problem with its line and column and caps aliases. Both read YAML 1.2's core schema
 * (no timestamps, no merge keys), so a file they both accept gives the same values
 * (test/inventory/fast-read.test.ts).
 */
export function readQuickly(text: string): unknown {
  let value: unknown;
  try {
    value = loadYaml(text, { schema: CORE_SCHEMA });
  } catch {
    return undefined;
  }
  // An empty file: js-yaml says undefined, yaml null.
  return sharesNodes(value) ? undefined : (value ?? null);
}

/** Whether an object or array appears twice in the tree (what an alias makes). */
function sharesNodes(root: unknown): boolean {
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== "object") continue;
    if (seen.has(node)) return true;
    seen.add(node);
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push(child);
  }
  return false;
}

function inventoryOf(file: z.infer<typeof inventoryFile>, defaultQuota: number): Inventory {
  const pools: PoolSpec[] = [];
  const vms: VmSpec[] = [];
  for (const [pool, entry] of Object.entries(file.pools)) {
    const ssh = typeof entry.cleanup === "object" ? entry.cleanup : undefined;
    pools.push({
      name: pool,
      quota: entry.quota ?? file.defaults?.quota ?? defaultQuota,
      cleanup: entry.cleanup === "none" ? "none" : "ssh",
      cleanupCommand: ssh?.command ?? null,
      trustOnFirstUse: ssh?.trust_on_first_use ?? false,
      sshPrivateKeyFile: ssh?.ssh_private_key_file ?? null,
      leaseSeconds: entry.lease ?? file.defaults?.lease ?? null,
      maxLeaseSeconds: entry.max_lease ?? file.defaults?.max_lease ?? null,
    });
    for (const vm of entry.vms) vms.push(vmSpec(pool, vm, file.defaults));
  }
  return { pools, vms };
}

function vmSpec(pool: string, vm: z.infer<typeof vmEntry>, defaults: Defaults): VmSpec {
  return {
    name: vm.name,
    ip: vm.ip,
    pool,
    sshUser: vm.ssh_user ?? defaults?.ssh_user ?? "root",
    sshPort: vm.ssh_port ?? defaults?.ssh_port ?? 22,
    hostKeyFingerprint: vm.host_key ?? null,
    tags: vm.tags ?? [],
  };
}

/** "line 5, column 42: Map keys must be unique", without the source excerpt prettyErrors appends. */
function yamlProblem(error: YAMLError): string {
  const [start] = error.linePos ?? [];
  const message = error.message.replace(/ at line \d+, column \d+:[\s\S]*$/, "");
  return `${start ? `line ${start.line}, column ${start.col}: ` : ""}not valid YAML: ${message}`;
}

function shapeProblem(raw: unknown, issue: z.core.$ZodIssue): string {
  const where = describePath(raw, issue.path);
  if (issue.code === "invalid_key") {
    const key = issue.path.at(-1);
    return `${where}: ${shown(String(key))} is not a valid name: ${issue.issues.map((i) => i.message).join("; ")}`;
  }
  return `${where}: ${issue.message}`;
}

/**
 * The checks the core applies to a VM (src/core/validate.ts), and names used
 * twice, for every VM entry whose shape is right; an entry with a shape error
 * is reported by the schema and not judged twice.
 */
function valueProblems(raw: unknown): string[] {
  const problems: string[] = [];
  const defaults = fileDefaults.safeParse(field(raw, "defaults"));
  const seen = new Map<string, string>();
  for (const [pool, entry] of Object.entries(record(field(raw, "pools")))) {
    const vms = field(entry, "vms");
    if (!Array.isArray(vms)) continue;
    vms.forEach((rawVm: unknown, index) => {
      const where = `pools.${pool}.vms[${index}]${nameSuffix(rawVm)}`;
      const vmName = field(rawVm, "name");
      if (typeof vmName === "string") {
        const earlier = seen.get(vmName);
        if (earlier) problems.push(`${where}.name: ${shown(vmName)} is already used by ${earlier}`);
        else seen.set(vmName, where);
      }
      const vm = vmEntry.safeParse(rawVm);
      if (!vm.success) return;
      const spec = vmSpec(pool, vm.data, defaults.success ? defaults.data : undefined);
      const checks = [
        checkIp(spec.ip, "ip"),
        checkSshUser(spec.sshUser, vm.data.ssh_user === undefined ? "defaults.ssh_user" : "ssh_user"),
        checkSshPort(spec.sshPort, "ssh_port"),
        spec.hostKeyFingerprint === null ? null : checkFingerprint(spec.hostKeyFingerprint, "host_key"),
        ...spec.tags.map((tag, i) => checkTag(tag, `tags[${i}]`)),
      ];
      for (const bad of checks) {
        if (bad?.code !== "invalid_input") continue;
        // A default's problem belongs to the defaults entry; report it once, not per VM.
        const line = bad.field.startsWith("defaults.") ? `${bad.field}: ${bad.message}` : `${where}.${bad.field}: ${bad.message}`;
        if (!problems.includes(line)) problems.push(line);
      }
    });
  }
  return problems;
}

const field = (node: unknown, key: string): unknown =>
  node !== null && typeof node === "object" && !Array.isArray(node) ? (node as Record<string, unknown>)[key] : undefined;

const record = (node: unknown): Record<string, unknown> =>
  node !== null && typeof node === "object" && !Array.isArray(node) ? (node as Record<string, unknown>) : {};

/** " (vm-04)" after an entry's index, when it has a name to show. */
function nameSuffix(node: unknown): string {
  const vmName = field(node, "name");
  return vmName === undefined ? "" : ` (${shownName(String(vmName))})`;
}

/** "pools.default.vms[3] (vm-04).ip" rather than a bare index path. */
function describePath(doc: unknown, path: PropertyKey[]): string {
  let node: unknown = doc;
  const parts: string[] = [];
  for (const key of path) {
    if (typeof key === "number") {
      node = Array.isArray(node) ? node[key] : undefined;
      parts[parts.length - 1] += `[${key}]${nameSuffix(node)}`;
    } else {
      node = field(node, String(key));
      parts.push(String(key));
    }
  }
  return parts.join(".") || "(top level)";
}

/** A value as a message shows it: a 10 kB name must not become a 10 kB message. */
function shownName(value: string): string {
  return value.length > 40 ? value.slice(0, 40) + "…" : value;
}

const shown = (value: string) => JSON.stringify(shownName(value));
