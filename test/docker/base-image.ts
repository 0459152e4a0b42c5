import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOrThrow } from "./command.js";
import type { TestDocker } from "./daemon.js";
import { withLock } from "./lock.js";

/**
 * The stand-in for `node:22-bookworm-slim`, made on this machine because it
 * cannot pull images: Debian bookworm (debootstrap's minbase, as Docker's own
 * debian images are) with Node 22 and npm 10 (the npm Node 22 ships) under
 * /usr/local, where the official image has them. It also trusts the CA file
 * this machine's npm is told to trust, so `npm ci` in the build reaches the
 * registry as npm on this machine does.
 *
 * The slow part, debootstrap (minutes), is cached as a tarball in
 * /var/cache/vmres-test-rootfs, named by what went into it; the image itself
 * stays in the test dockerd's data folder, tagged by the hash of everything
 * it contains, so later runs find it at once.
 */
export const BASE_REPOSITORY = "vmres-test-base";
const ROOTFS_CACHE = "/var/cache/vmres-test-rootfs";
const SUITE = "bookworm";
const NODE_PACKAGE = "node@22";
const NPM_PACKAGE = "npm@10";
/** Left out of the tarball: downloaded packages and package lists (as Docker's debian images), device nodes (docker makes /dev). */
const ROOTFS_EXCLUDES = ["./var/cache/apt/archives/*.deb", "./var/lib/apt/lists/*", "./dev/*"];
const DEBOOTSTRAP_TIMEOUT_MS = 15 * 60_000;
const LOCK_TIMEOUT_MS = 20 * 60_000;

/** Returns the base image's reference, making it (and the rootfs tarball) when missing. */
export async function ensureBaseImage(docker: TestDocker, log: (line: string) => void = () => {}): Promise<string> {
  mkdirSync(ROOTFS_CACHE, { recursive: true, mode: 0o755 });
  return withLock(join(ROOTFS_CACHE, "make.lock"), "making the test base image", LOCK_TIMEOUT_MS, async () => {
    const mirror = debianMirror();
    const rootfsKey = hash({ suite: SUITE, variant: "minbase", mirror, excludes: ROOTFS_EXCLUDES });
    const node = await nodeBinary();
    const npmTrust = await npmTrustSettings();
    const key = hash({ rootfsKey, node: node.version, npm: NPM_PACKAGE, npmTrust: npmTrust && { ...npmTrust, ca: hash(npmTrust.ca) } });
    const reference = `${BASE_REPOSITORY}:${SUITE}-node${node.version.replace(/^v/, "")}-${key.slice(0, 12)}`;
    if ((await docker.docker(["image", "inspect", reference], { timeoutMs: 30_000 })).code === 0) return reference;

    const tarball = join(ROOTFS_CACHE, `${SUITE}-minbase-${rootfsKey.slice(0, 16)}.tar`);
    if (!existsSync(tarball)) {
      log(`making a Debian ${SUITE} rootfs from ${mirror} with debootstrap (a few minutes, once per machine; cached in ${tarball})`);
      await makeRootfsTarball(mirror, tarball);
    }
    log(`making the base image ${reference}`);
    const rootfsImage = `vmres-test-rootfs:${SUITE}-${rootfsKey.slice(0, 12)}`;
    await docker.dockerOrThrow(["import", "--message", `debootstrap --variant=minbase ${SUITE} ${mirror}`, tarball, rootfsImage], { timeoutMs: 5 * 60_000 });
    await buildBase(docker, { from: rootfsImage, reference, node, npmTrust, key });
    await removeOlderBases(docker, reference);
    return reference;
  });
}

/** The Debian mirror this machine's apt uses for the suite (deb822 or one-line sources), else deb.debian.org. */
export function debianMirror(): string {
  const files = ["/etc/apt/sources.list", ...listDir("/etc/apt/sources.list.d").map((f) => join("/etc/apt/sources.list.d", f))];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    if (file.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string) => stanza.match(new RegExp(`^${name}:\\s*(.+)$`, "mi"))?.[1]?.trim().split(/\s+/) ?? [];
        if (field("Types").includes("deb") && field("Suites").includes(SUITE) && field("Components").includes("main")) {
          const uri = field("URIs")[0];
          if (uri?.startsWith("http")) return uri;
        }
      }
    } else {
      for (const line of text.split("\n")) {
        const m = line.match(/^\s*deb\s+(?:\[[^\]]*\]\s+)?(https?:\/\/\S+)\s+(\S+)\s+(.*)$/);
        if (m && m[2] === SUITE && (m[3] ?? "").split(/\s+/).includes("main")) return m[1] as string;
      }
    }
  }
  return "http://deb.debian.org/debian";
}

async function makeRootfsTarball(mirror: string, tarball: string): Promise<void> {
  const work = mkdtempSync(join(ROOTFS_CACHE, "work-"));
  const dir = join(work, "rootfs");
  try {
    await runOrThrow("debootstrap", ["--variant=minbase", SUITE, dir, mirror], { timeoutMs: DEBOOTSTRAP_TIMEOUT_MS });
    const partial = join(work, "rootfs.tar");
    await runOrThrow("tar", ["--numeric-owner", ...ROOTFS_EXCLUDES.map((e) => `--exclude=${e}`), "-C", dir, "-cf", partial, "."], { timeoutMs: 5 * 60_000 });
    renameSync(partial, tarball); // whole or not at all: a killed run leaves no half tarball under the final name
  } finally {
    // debootstrap mounts /proc and /sys inside the target while it works; if it was
    // stopped halfway they may still be there. Unmount them, and never cross into
    // another filesystem while deleting.
    await unmountUnder(dir);
    await runOrThrow("rm", ["-rf", "--one-file-system", work], { timeoutMs: 5 * 60_000 });
  }
}

async function unmountUnder(dir: string): Promise<void> {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((point): point is string => point !== undefined && point.startsWith(dir + "/"))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) await runOrThrow("umount", ["--lazy", point], { timeoutMs: 30_000 });
}

/** Node 22 as the npm registry ships it (the `node` package: one dynamically linked binary that runs on bookworm). */
async function nodeBinary(): Promise<{ path: string; version: string }> {
  const found = await runOrThrow("npx", ["-y", "-p", NODE_PACKAGE, "--", "sh", "-c", "command -v node"], { timeoutMs: 5 * 60_000 });
  const path = realpathSync(found.trim());
  const version = (await runOrThrow(path, ["--version"], { timeoutMs: 30_000 })).trim();
  if (!/^v22\./.test(version)) throw new Error(`npx -p ${NODE_PACKAGE} gave node ${version} (${path}), not Node 22`);
  return { path, version };
}

/**
 * The CA file and registry this machine's npm uses, when they differ from npm's own defaults:
 * npm's `cafile`, else the NODE_EXTRA_CA_CERTS Node itself trusts. The second matters when npm
 * runs under a Node installed elsewhere (CI's Node 22 in /opt/vmres-ci): npm then reads its
 * global npmrc from that Node's prefix, not the one that names the machine's CA, and only the
 * environment still says which CA a TLS-inspecting proxy on the way to the registry needs.
 */
async function npmTrustSettings(): Promise<{ ca: string; registry: string } | undefined> {
  const setting = async (name: string) => (await runOrThrow("npm", ["config", "get", name], { timeoutMs: 30_000 })).trim();
  const usable = (file: string | undefined): file is string => file !== undefined && file !== "null" && file !== "undefined" && file !== "" && existsSync(file);
  const configured = await setting("cafile");
  const cafile = usable(configured) ? configured : process.env["NODE_EXTRA_CA_CERTS"];
  if (!usable(cafile)) return undefined;
  return { ca: readFileSync(cafile, "utf8"), registry: await setting("registry") };
}

async function buildBase(
  docker: TestDocker,
  base: { from: string; reference: string; node: { path: string; version: string }; npmTrust: { ca: string; registry: string } | undefined; key: string },
): Promise<void> {
  const context = mkdtempSync(join(tmpdir(), "vmres-test-base-"));
  try {
    copyFileSync(base.node.path, join(context, "node"));
    const packed = JSON.parse(await runOrThrow("npm", ["pack", NPM_PACKAGE, "--json", "--pack-destination", context], { timeoutMs: 5 * 60_000 })) as { filename: string }[];
    const npmTarball = packed[0]?.filename;
    if (!npmTarball) throw new Error(`npm pack ${NPM_PACKAGE} printed no file name`);
    mkdirSync(join(context, "npm"));
    await runOrThrow("tar", ["-xzf", join(context, npmTarball), "-C", join(context, "npm"), "--strip-components=1"], { timeoutMs: 60_000 });
    rmSync(join(context, npmTarball));
    const npmrc: string[] = [];
    if (base.npmTrust) {
      writeFileSync(join(context, "npm-ca.crt"), base.npmTrust.ca);
      npmrc.push("cafile=/usr/local/etc/npm-ca.crt", `registry=${base.npmTrust.registry}`);
    }
    writeFileSync(join(context, "npmrc"), npmrc.map((line) => line + "\n").join(""));
    writeFileSync(
      join(context, "Dockerfile"),
      [
        `FROM ${base.from}`,
        "COPY node /usr/local/bin/node",
        "COPY npm /usr/local/lib/node_modules/npm",
        "COPY npmrc /usr/local/etc/npmrc",
        ...(base.npmTrust ? ["COPY npm-ca.crt /usr/local/etc/npm-ca.crt"] : []),
        "RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\",
        " && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\",
        " && node --version && npm --version",
        `LABEL org.opencontainers.image.description="vmres test stand-in for node:22-bookworm-slim (Node ${base.node.version})" vmres-test.base-key="${base.key}"`,
        'CMD ["node"]',
        "",
      ].join("\n"),
    );
    await docker.dockerOrThrow(["build", "--network=none", "--tag", base.reference, context], { timeoutMs: 5 * 60_000 });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/** Base images of earlier Node releases or rootfs: replaced, so they would only take space. */
async function removeOlderBases(docker: TestDocker, keep: string): Promise<void> {
  const listed = await docker.dockerOrThrow(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter", `reference=${BASE_REPOSITORY}`]);
  const older = listed
    .split("\n")
    .map((line) => line.trim())
    .filter((ref) => ref !== "" && ref !== keep);
  if (older.length > 0) await docker.docker(["image", "rm", ...older]);
}

function hash(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex");
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith(".list") || f.endsWith(".sources"));
  } catch {
    return [];
  }
}
