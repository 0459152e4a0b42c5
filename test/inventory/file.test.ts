import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { InventoryError, parseInventory, readInventoryFile } from "../../src/inventory/file.js";

/** The message parseInventory throws for this YAML, or "parsed" when it accepts it. */
function problemWith(yaml: string): string {
  try {
    parseInventory(yaml, "vms.yml", 1);
    return "parsed";
  } catch (err) {
    expect(err).toBeInstanceOf(InventoryError);
    return (err as Error).message;
  }
}

/** A pool `default` whose second VM has the given extra YAML (flow style). */
const secondVm = (fields: string) =>
  `pools:\n  default:\n    vms:\n      - { name: vm-01, ip: 198.51.100.1 }\n      - { ${fields} }\n`;

describe("parseInventory", () => {
  it("fills what a VM leaves out from the file's defaults, then from the built-in ones", () => {
    const inventory = parseInventory(
      [
        "defaults: { ssh_user: ubuntu, quota: 3 }",
        "pools:",
        "  default:",
        "    vms:",
        "      - { name: vm-01, ip: 198.51.100.1 }",
        "      - { name: vm-02, ip: 198.51.100.2, ssh_user: admin, ssh_port: 2222, tags: [big] }",
        "  gpu:",
        "    quota: 1",
        "    cleanup: { command: 'rm -rf /scratch/*', trust_on_first_use: true }",
      ].join("\n"),
      "vms.yml",
      5,
    );
    expect(inventory.pools).toEqual([
      { name: "default", quota: 3, cleanupCommand: null, trustOnFirstUse: false, sshPrivateKeyFile: null },
      { name: "gpu", quota: 1, cleanupCommand: "rm -rf /scratch/*", trustOnFirstUse: true, sshPrivateKeyFile: null },
    ]);
    expect(inventory.vms).toEqual([
      { name: "vm-01", ip: "198.51.100.1", pool: "default", sshUser: "ubuntu", sshPort: 22, hostKeyFingerprint: null, tags: [] },
      { name: "vm-02", ip: "198.51.100.2", pool: "default", sshUser: "admin", sshPort: 2222, hostKeyFingerprint: null, tags: ["big"] },
    ]);
  });

  it("uses the configured default quota and root on port 22 when the file says nothing", () => {
    const inventory = parseInventory("pools:\n  default:\n    vms:\n      - { name: vm-01, ip: 198.51.100.1 }\n", "vms.yml", 4);
    expect(inventory.pools[0]?.quota).toBe(4);
    expect(inventory.vms[0]).toMatchObject({ sshUser: "root", sshPort: 22 });
  });

  it("refuses a VM name used in two pools, naming both entries", () => {
    const message = problemWith(
      "pools:\n  a:\n    vms:\n      - { name: vm-01, ip: 198.51.100.1 }\n  b:\n    vms:\n      - { name: vm-02, ip: 198.51.100.2 }\n      - { name: vm-01, ip: 198.51.100.3 }\n",
    );
    expect(message).toBe('vms.yml: pools.b.vms[1] (vm-01): name "vm-01" is already used by pools.a.vms[0] (vm-01)');
  });

  it("refuses unknown keys, so a typo is not silently ignored", () => {
    expect(problemWith(secondVm("name: vm-02, ip: 198.51.100.2, sshport: 2222"))).toMatch(
      /pools\.default\.vms\[1\] \(vm-02\): Unrecognized key: "sshport"/,
    );
    expect(problemWith("pool:\n  default: {}\n")).toMatch(/Unrecognized key: "pool"/);
  });

  it("names the entry and field of a bad IP address", () => {
    expect(problemWith(secondVm("name: vm-02, ip: 999.1.1.1"))).toBe(
      'vms.yml: pools.default.vms[1] (vm-02).ip: "999.1.1.1" is not an IPv4 or IPv6 address',
    );
  });

  it("names the entry and field of a bad host key, by the key written in the file", () => {
    expect(problemWith(secondVm("name: vm-02, ip: 198.51.100.2, host_key: 'SHA256:short'"))).toMatch(
      /^vms\.yml: pools\.default\.vms\[1\] \(vm-02\)\.host_key: "SHA256:short" is not a host key fingerprint/,
    );
  });

  it("names the entry of a port out of range", () => {
    expect(problemWith(secondVm("name: vm-02, ip: 198.51.100.2, ssh_port: 70000"))).toMatch(/pools\.default\.vms\[1\] \(vm-02\)\.ssh_port: Too big/);
  });

  it("refuses a 10 kB name without repeating it in full", () => {
    const message = problemWith(secondVm(`name: ${"a".repeat(10_000)}, ip: 198.51.100.2`));
    expect(message).toMatch(/pools\.default\.vms\[1\] \(a{40}…\)\.name: use 1-63 lowercase letters/);
    expect(message.length).toBeLessThan(500);
  });

  it("refuses YAML that does not parse, and duplicate keys", () => {
    expect(problemWith("pools:\n  default:\n    vms: [\n")).toMatch(/^vms\.yml is not valid YAML: /);
    expect(problemWith(secondVm("name: vm-02, ip: 198.51.100.2, ip: 198.51.100.3"))).toMatch(/^vms\.yml is not valid YAML: Map keys must be unique at line 5/);
  });
});

describe("vms.example.yml", () => {
  it("is a valid inventory, so the documented example cannot rot", () => {
    const inventory = readInventoryFile(fileURLToPath(new URL("../../vms.example.yml", import.meta.url)), 1);
    expect(inventory.pools.map((p) => p.name)).toEqual(["default", "gpu"]);
    expect(inventory.vms.map((v) => v.name)).toEqual(["vm-01", "vm-02", "vm-03", "gpu-01", "gpu-02"]);
  });
});
