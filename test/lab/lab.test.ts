import { statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { isAlive } from "./process.js";
import { listLabLinks, listLabNetns, processesInNetns } from "./network.js";
import { labSkipReason, startLab, type Lab, type LabHost } from "./lab.js";

const skipReason = labSkipReason();

describe.skipIf(skipReason !== null)("the sshd test lab", () => {
  let lab: Lab;
  let host: LabHost;

  beforeAll(async () => {
    lab = await startLab({ count: 2 });
    host = lab.hosts[0] as LabHost;
  });
  afterAll(async () => {
    await lab?.stop();
  });

  it("gives each host its own address and host key", () => {
    const [first, second] = lab.hosts as [LabHost, LabHost];
    expect(first.ip).not.toBe(second.ip);
    expect(first.hostKeyFingerprint).not.toBe(second.hostKeyFingerprint);
    for (const h of lab.hosts) {
      expect(h.ip).toMatch(/^(198\.51\.100|203\.0\.113)\.\d+$/);
      expect(h.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    }
  });

  it("lets a host write only to its own /tmp, /run and /root, never to the machine's files", async () => {
    const probe = await host.exec([
      "sh",
      "-c",
      'for d in /tmp /run /root /usr /work /var/tmp /etc /dev; do if touch "$d/vmres-lab-probe" 2>/dev/null; then echo "$d writable"; else echo "$d read-only"; fi; done',
    ]);
    expect(probe.stdout.split("\n").filter(Boolean)).toEqual([
      "/tmp writable",
      "/run writable",
      "/root writable",
      "/usr read-only",
      "/work read-only",
      "/var/tmp read-only",
      "/etc read-only",
      "/dev read-only",
    ]);
    expect(() => statSync("/tmp/vmres-lab-probe")).toThrow();
    expect(() => statSync("/root/vmres-lab-probe")).toThrow();
  });

  it("gives each host a /tmp that is a tmpfs of its own", async () => {
    const device = async (h: LabHost) => (await h.exec(["stat", "-c", "%d", "/tmp"])).stdout.trim();
    const [first, second] = await Promise.all(lab.hosts.map(device));
    expect(first).not.toBe(String(statSync("/tmp").dev));
    expect(first).not.toBe(second);
    expect((await host.exec(["stat", "-f", "-c", "%T", "/tmp"])).stdout.trim()).toBe("tmpfs");
  });

  it("keeps a host's network to itself: only its eth0 and loopback, up", async () => {
    const links = await host.exec(["ip", "-br", "addr"]);
    const names = links.stdout.split("\n").filter(Boolean).map((line) => line.split(/[\s@]+/)[0]);
    expect(names.sort()).toEqual(["eth0", "lo"]);
    expect(links.stdout).toContain(`${host.ip}/31`);
  });

  it("changes a host's fingerprint when its key is replaced", async () => {
    const before = host.hostKeyFingerprint;
    await host.replaceHostKey();
    expect(host.hostKeyFingerprint).not.toBe(before);
    expect(host.hostKeyFingerprint).toMatch(/^SHA256:/);
  });

  it("leaves no namespace, link or process behind when stopped", async () => {
    const own = await startLab({ count: 2 });
    const netns = own.hosts.map((h) => h.name);
    const veths = netns.map((n) => n.replace("vmres-lab-", "vmres-lab-v"));
    await own.hosts[0]?.spawnInside(["sleep", "1000"]);
    // Per host a holder and sshd, plus the sleep (which joins the namespace a moment after it is spawned).
    const pids = await vi.waitFor(
      () => {
        const found = processesInNetns(netns);
        expect(found.length).toBe(5);
        return found;
      },
      { timeout: 5000, interval: 50 },
    );

    await own.stop();

    expect(listLabNetns().filter((n) => netns.includes(n))).toEqual([]);
    expect((await listLabLinks()).filter((link) => veths.includes(link))).toEqual([]);
    expect(pids.filter(isAlive)).toEqual([]);
  });
});
