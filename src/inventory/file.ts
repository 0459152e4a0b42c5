import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { z } from "zod";
import { checkVmSpec, type VmSpec } from "../core/admin.js";
import type { PoolSpec } from "../core/sync.js";

/**
 * The inventory file (vms.yml): pools, their settings, and their VMs.
 * Parsing is all-or-nothing: any problem names the entry and field, and nothing is applied.
 */
const name = z.string().regex(/^[a-z0-9][a-z0-9.-]{0,62}$/, "use 1-63 lowercase letters, digits, '-' or '.', starting with a letter or digit");

const vmEntry = z.strictObject({
  name,
  ip: z.string().max(64),
  ssh_user: z.string().max(32).optional(),
  ssh_port: z.number().int().min(1).max(65535).optional(),
  host_key: z.string().max(64).nullable().optional(),
  tags: z.array(z.string().max(63)).max(64).optional(),
});

const poolEntry = z.strictObject({
  quota: z.number().int().min(1).max(1000).optional(),
  cleanup: z
    .strictObject({
      command: z.string().min(1).max(8192).nullable().optional(),
      trust_on_first_use: z.boolean().optional(),
      ssh_private_key_file: z.string().min(1).max(4096).nullable().optional(),
    })
    .optional(),
  vms: z.array(vmEntry).max(200_000).default([]),
});

const inventoryFile = z.strictObject({
  defaults: z
    .strictObject({
      ssh_user: z.string().max(32).optional(),
      ssh_port: z.number().int().min(1).max(65535).optional(),
      quota: z.number().int().min(1).max(1000).optional(),
    })
    .optional(),
  pools: z.record(name, poolEntry),
});

/** A parsed inventory, ready for `syncInventory`. */
export interface Inventory {
  pools: PoolSpec[];
  vms: VmSpec[];
}

export class InventoryError extends Error {
  readonly code = "inventory_invalid";
}

export function readInventoryFile(path: string, defaultQuota: number): Inventory {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new InventoryError(`cannot read inventory file ${path}: ${(err as Error).message}`);
  }
  return parseInventory(text, path, defaultQuota);
}

export function parseInventory(text: string, source: string, defaultQuota: number): Inventory {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new InventoryError(`${source} is not valid YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
  }
  const parsed = inventoryFile.safeParse(doc.toJS());
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `  ${describePath(doc.toJS(), i.path)}: ${i.message}`);
    throw new InventoryError(`${source} has errors:\n${issues.join("\n")}`);
  }
  const file = parsed.data;
  const pools: PoolSpec[] = [];
  const vms: VmSpec[] = [];
  const seen = new Map<string, string>();
  for (const [pool, entry] of Object.entries(file.pools)) {
    pools.push({
      name: pool,
      quota: entry.quota ?? file.defaults?.quota ?? defaultQuota,
      cleanupCommand: entry.cleanup?.command ?? null,
      trustOnFirstUse: entry.cleanup?.trust_on_first_use ?? false,
      sshPrivateKeyFile: entry.cleanup?.ssh_private_key_file ?? null,
    });
    entry.vms.forEach((vm, index) => {
      const where = `pools.${pool}.vms[${index}] (${shownName(vm.name)})`;
      const earlier = seen.get(vm.name);
      if (earlier) throw new InventoryError(`${source}: ${where}: name "${vm.name}" is already used by ${earlier}`);
      seen.set(vm.name, where);
      const spec: VmSpec = {
        name: vm.name,
        ip: vm.ip,
        pool,
        sshUser: vm.ssh_user ?? file.defaults?.ssh_user ?? "root",
        sshPort: vm.ssh_port ?? file.defaults?.ssh_port ?? 22,
        hostKeyFingerprint: vm.host_key ?? null,
        tags: vm.tags ?? [],
      };
      const bad = checkVmSpec(spec);
      if (bad?.code === "invalid_input") throw new InventoryError(`${source}: ${where}.${fileKey(bad.field)}: ${bad.message}`);
      vms.push(spec);
    });
  }
  return { pools, vms };
}

/** "pools.default.vms[3] (vm-04).ip" rather than a bare index path. */
function describePath(doc: unknown, path: PropertyKey[]): string {
  let node: unknown = doc;
  const parts: string[] = [];
  for (const key of path) {
    if (typeof key === "number") {
      node = Array.isArray(node) ? node[key] : undefined;
      const vmName = node && typeof node === "object" && "name" in node ? ` (${shownName(String((node as { name: unknown }).name))})` : "";
      parts[parts.length - 1] += `[${key}]${vmName}`;
    } else {
      node = node && typeof node === "object" ? (node as Record<string, unknown>)[String(key)] : undefined;
      parts.push(String(key));
    }
  }
  return parts.join(".") || "(top level)";
}

/** A VM name as a message shows it: a 10 kB name must not become a 10 kB message. */
function shownName(value: string): string {
  return value.length > 40 ? value.slice(0, 40) + "…" : value;
}

/** The core's field labels (src/core/validate.ts) as the keys a person typed in the file. */
function fileKey(field: string): string {
  return { "ssh user": "ssh_user", "ssh port": "ssh_port", "host key": "host_key" }[field] ?? field;
}
