import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runOrThrow } from "./command.js";
import { ensureBaseImage } from "./base-image.js";
import type { TestDocker } from "./daemon.js";
import { withLock } from "./lock.js";

/** Where the key pair the test image trusts is kept between runs (beside the cached rootfs). */
const CACHE = "/var/cache/vmres-test-rootfs";
export const SSH_IMAGE_REPOSITORY = "vmres-test-sshd";

/** The test image for provisioned pools, and the private key that logs in to its containers as root. */
export interface SshImage {
  reference: string;
  privateKeyFile: string;
}

/**
 * A machine-like test image: the tests' Debian base (made locally, never
 * pulled) with openssh-server from Debian's archive, root's authorized key
 * baked in and sshd as its command, so a container of it is a VM that the
 * docker provider can lend, save (commit) and restore. Made once per machine
 * and base, tagged by the hash of what went into it.
 */
export async function ensureSshImage(docker: TestDocker, log: (line: string) => void = () => {}): Promise<SshImage> {
  const base = await ensureBaseImage(docker, log);
  mkdirSync(CACHE, { recursive: true, mode: 0o755 });
  return withLock(join(CACHE, "sshd.lock"), "making the test sshd image", 10 * 60_000, async () => {
    const privateKeyFile = join(CACHE, "vmres-test-sshd-key");
    if (!existsSync(privateKeyFile)) {
      await runOrThrow("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "vmres-test", "-f", privateKeyFile], { timeoutMs: 30_000 });
    }
    const publicKey = readFileSync(`${privateKeyFile}.pub`, "utf8");
    const dockerfile = [
      `FROM ${base}`,
      "RUN apt-get update && apt-get install -y --no-install-recommends openssh-server && rm -rf /var/lib/apt/lists/* \\",
      " && mkdir -p /run/sshd /root/.ssh && chmod 700 /root/.ssh && ssh-keygen -A",
      "COPY authorized_keys /root/.ssh/authorized_keys",
      "RUN chmod 600 /root/.ssh/authorized_keys",
      "EXPOSE 22",
      'CMD ["/usr/sbin/sshd", "-D", "-e"]',
      "",
    ].join("\n");
    const key = createHash("sha256").update(dockerfile).update(publicKey).digest("hex").slice(0, 12);
    const reference = `${SSH_IMAGE_REPOSITORY}:${key}`;
    if ((await docker.docker(["image", "inspect", reference], { timeoutMs: 30_000 })).code === 0) return { reference, privateKeyFile };
    log(`making the test sshd image ${reference} (apt-get install openssh-server, once per machine)`);
    const context = mkdtempSync(join(tmpdir(), "vmres-test-sshd-"));
    try {
      writeFileSync(join(context, "Dockerfile"), dockerfile);
      writeFileSync(join(context, "authorized_keys"), publicKey);
      // The host's network for apt only, as the image test's build does for npm.
      await docker.dockerOrThrow(["build", "--network=host", "--tag", reference, context], { timeoutMs: 10 * 60_000 });
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
    return { reference, privateKeyFile };
  });
}
