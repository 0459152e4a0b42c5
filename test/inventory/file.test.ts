import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { InventoryError, parseInventory, readInventoryFile } from "../../src/inventory/file.js";

/** The InventoryError parseInventory throws for this YAML; fails the test when it accepts the file. */
function refusalOf(yaml: string): InventoryError {
  try {
    parseInventory(yaml, "vms.yml", 1);
  } catch (err) {
    expect(err).toBeInstanceOf(InventoryError);
    return err as InventoryError;
  }
  throw new Error("the file was accepted");
}

/** The message of that refusal. */
const problemWith = (yaml: string) => refusalOf(yaml).message;

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
      { name: "default", quota: 3, cleanup: "ssh", cleanupCommand: null, trustOnFirstUse: false, sshPrivateKeyFile: null, leaseSeconds: null, maxLeaseSeconds: null },
      { name: "gpu", quota: 1, cleanup: "ssh", cleanupCommand: "rm -rf /scratch/*", trustOnFirstUse: true, sshPrivateKeyFile: null, leaseSeconds: null, maxLeaseSeconds: null },
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

  it("reads a pool's lease and max_lease, else the file's defaults, else none (DEFAULT_LEASE and MAX_LEASE apply)", () => {
    const inventory = parseInventory(
      [
        "defaults: { lease: 8h, max_lease: 3d }",
        "pools:",
        "  default:",
        "    lease: 90m",
        "    max_lease: 1d12h",
        "    vms: [{ name: vm-01, ip: 198.51.100.1 }]",
        "  gpu:",
        "    lease: 4h",
        "    vms: [{ name: gpu-01, ip: 198.51.100.2 }]",
      ].join("\n"),
      "vms.yml",
      1,
    );
    expect(inventory.pools.map((p) => [p.name, p.leaseSeconds, p.maxLeaseSeconds])).toEqual([
      ["default", 5400, 129_600],
      ["gpu", 14_400, 259_200],
    ]);
    const bare = parseInventory("pools:\n  default:\n    vms: [{ name: vm-01, ip: 198.51.100.1 }]\n", "vms.yml", 1);
    expect(bare.pools[0]).toMatchObject({ leaseSeconds: null, maxLeaseSeconds: null });
  });

  it("refuses a lease that is not a duration of at least a minute, naming the field", () => {
    const refusal = refusalOf(
      [
        "defaults: { lease: 8 }",
        "pools:",
        "  default:",
        "    lease: 1.5h",
        "    max_lease: 30s",
        "    vms: [{ name: vm-01, ip: 198.51.100.1 }]",
        "  gpu:",
        "    lease: '4 h'",
        "    max_lease: 0m",
        "    vms: [{ name: gpu-01, ip: 198.51.100.2 }]",
      ].join("\n"),
    );
    const shape = "expected a duration like 90m, 4h, 2d or 1d12h (whole numbers, units d, h, m, s, largest first), at least 1m";
    expect(refusal.problems).toEqual([
      "defaults.lease: Invalid input: expected string, received number",
      `pools.default.lease: ${shape}`,
      `pools.default.max_lease: ${shape}`,
      `pools.gpu.lease: ${shape}`,
      `pools.gpu.max_lease: ${shape}`,
    ]);
  });

  it("refuses a pool's lease longer than its maximum (every checkout would be cut without a word)", () => {
    const refusal = refusalOf(["defaults: { max_lease: 1d }", "pools:", "  default:", "    lease: 2d", "    vms: [{ name: vm-01, ip: 198.51.100.1 }]"].join("\n"));
    expect(refusal.problems).toEqual(["pools.default.lease: 2d is longer than its max_lease 1d; make the lease at most the maximum"]);
  });

  it("refuses a VM name used in two pools, naming both entries", () => {
    const message = problemWith(
      "pools:\n  a:\n    vms:\n      - { name: vm-01, ip: 198.51.100.1 }\n  b:\n    vms:\n      - { name: vm-02, ip: 198.51.100.2 }\n      - { name: vm-01, ip: 198.51.100.3 }\n",
    );
    expect(message).toBe('vms.yml has 1 error:\n  pools.b.vms[1] (vm-01).name: "vm-01" is already used by pools.a.vms[0] (vm-01)');
  });

  it("refuses unknown keys, so a typo is not silently ignored", () => {
    expect(problemWith(secondVm("name: vm-02, ip: 198.51.100.2, sshport: 2222"))).toMatch(
      /pools\.default\.vms\[1\] \(vm-02\): Unrecognized key: "sshport"/,
    );
    expect(problemWith("pool:\n  default: {}\n")).toMatch(/Unrecognized key: "pool"/);
  });

  it("names the entry and field of a bad IP address", () => {
    expect(problemWith(secondVm("name: vm-02, ip: 999.1.1.1"))).toBe(
      'vms.yml has 1 error:\n  pools.default.vms[1] (vm-02).ip: "999.1.1.1" is not an IPv4 or IPv6 address',
    );
  });

  it("names the entry and field of a bad host key, by the key written in the file", () => {
    expect(problemWith(secondVm("name: vm-02, ip: 198.51.100.2, host_key: 'SHA256:short'"))).toMatch(
      /^ {2}pools\.default\.vms\[1\] \(vm-02\)\.host_key: "SHA256:short" is not a host key fingerprint/m,
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
    expect(problemWith("pools:\n  default:\n    vms: [\n")).toMatch(/^vms\.yml has 1 error:\n {2}line 4, column 1: not valid YAML: Flow sequence/);
    expect(refusalOf(secondVm("name: vm-02, ip: 198.51.100.2, ip: 198.51.100.3")).problems).toEqual([
      "line 5, column 42: not valid YAML: Map keys must be unique",
    ]);
  });

  it("reports every error of the file at once: YAML, shape, values and duplicate names, each naming entry and field", () => {
    const refusal = refusalOf(
      [
        "defaults: { ssh_user: 'Bad User' }",
        "pools:",
        "  default:",
        "    quota: 0",
        "    vms:",
        "      - { name: vm-01, ip: 198.51.100.1, ip: 198.51.100.9 }",
        "      - { name: vm-02, ip: 999.1.1.1, ssh_user: root }",
        "      - { name: vm-03, ip: 198.51.100.3, sshport: 2222 }",
        "      - { name: vm-04, ip: 198.51.100.4, ssh_user: root, tags: [ok, 'no spaces'] }",
        "  gpu:",
        "    vms:",
        "      - { name: vm-02, ip: 198.51.100.5, ssh_user: root, host_key: 'SHA256:short' }",
        "  Bad_Pool:",
        "    vms: []",
      ].join("\n"),
    );
    expect(refusal.problems).toEqual([
      "line 6, column 42: not valid YAML: Map keys must be unique",
      "pools.default.quota: Too small: expected number to be >=1",
      'pools.default.vms[2] (vm-03): Unrecognized key: "sshport"',
      'pools.Bad_Pool: "Bad_Pool" is not a valid name: use 1-63 lowercase letters, digits, \'-\' or \'.\', starting with a letter or digit',
      'defaults.ssh_user: "Bad User" is not a Unix user name (lowercase, up to 32 characters)',
      'pools.default.vms[1] (vm-02).ip: "999.1.1.1" is not an IPv4 or IPv6 address',
      'pools.default.vms[3] (vm-04).tags[1]: "no spaces" is not a tag: use up to 63 letters, digits, "_", ".", ":", "=" or "-"',
      'pools.gpu.vms[0] (vm-02).name: "vm-02" is already used by pools.default.vms[1] (vm-02)',
      'pools.gpu.vms[0] (vm-02).host_key: "SHA256:short" is not a host key fingerprint: expected SHA256: followed by 43 base64 characters, as ssh-keygen -lf prints',
    ]);
    expect(refusal.message).toMatch(/^vms\.yml has 9 errors:\n {2}line 6/);
  });

  it("lists at most 50 errors and says how many more there are", () => {
    const vms = Array.from({ length: 120 }, (_, i) => `      - { name: vm-${i}, ip: 999.0.0.${i} }`);
    const refusal = refusalOf(`pools:\n  default:\n    vms:\n${vms.join("\n")}\n`);
    expect(refusal.problems).toHaveLength(120);
    const lines = refusal.message.split("\n");
    expect(lines[0]).toBe("vms.yml has 120 errors:");
    expect(lines).toHaveLength(52);
    expect(lines.at(-1)).toBe("  … and 70 more");
  });
});

describe("vms.example.yml", () => {
  it("is a valid inventory, so the documented example cannot rot", () => {
    const inventory = readInventoryFile(fileURLToPath(new URL("../../vms.example.yml", import.meta.url)), 1);
    expect(inventory.pools.map((p) => [p.name, p.leaseSeconds, p.maxLeaseSeconds])).toEqual([
      ["default", 8 * 3600, 3 * 86_400],
      ["gpu", 4 * 3600, 86_400 + 12 * 3600],
    ]);
    expect(inventory.vms.map((v) => v.name)).toEqual(["vm-01", "vm-02", "vm-03", "gpu-01", "gpu-02"]);
  });
});
