import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { utils } from "ssh2";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PrivateKeys, type BlockedKey } from "../../src/cleanup/private-keys.js";

describe("vmres's own private keys", () => {
  let dir: string;
  let told: string[];
  let keys: PrivateKeys;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "vmres-keys-"));
    told = [];
    keys = new PrivateKeys({
      onBlocked: ({ file, error }: BlockedKey) => told.push(`blocked ${file}: ${error.split(":")[0]}`),
      onUnblocked: (file) => told.push(`usable ${file}`),
    });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("tells of a missing key once, however many cleanups need it, and once more when it is back", async () => {
    const file = join(dir, "id_ed25519");
    for (let i = 0; i < 5; i++) expect(await keys.read(file)).toMatchObject({ ok: false, file });
    expect(keys.blockedKeys()).toEqual([{ file, error: expect.stringMatching(/^cannot read SSH private key file .*: ENOENT/) }]);

    writeFileSync(file, utils.generateKeyPairSync("ed25519").private, { mode: 0o600 });
    expect(await keys.recheck()).toEqual([]);
    expect(await keys.read(file)).toMatchObject({ ok: true });
    unlinkSync(file);
    await keys.read(file);
    expect(told).toEqual([`blocked ${file}: cannot read SSH private key file ${file}`, `usable ${file}`, `blocked ${file}: cannot read SSH private key file ${file}`]);
  });

  it("refuses a file that holds a public key, or an encrypted key it cannot open", async () => {
    const pair = utils.generateKeyPairSync("ed25519", { passphrase: "secret", cipher: "aes256-ctr", rounds: 4 });
    const publicOnly = join(dir, "public");
    const encrypted = join(dir, "encrypted");
    writeFileSync(publicOnly, pair.public);
    writeFileSync(encrypted, pair.private);
    expect(await keys.read(publicOnly)).toEqual({ ok: false, file: publicOnly, error: `cannot use SSH private key file ${publicOnly}: it holds no private key` });
    expect(await keys.read(encrypted)).toMatchObject({ ok: false, error: expect.stringMatching(/^cannot use SSH private key file .*encrypted.*: .*passphrase/i) });
    expect(keys.blockedKeys().map((k) => k.file).sort()).toEqual([encrypted, publicOnly]);
  });

  it("reads ~/ as the home of the user running vmres", async () => {
    const read = await keys.read("~/.vmres-test-no-such-key");
    expect(read.file).toBe(join(homedir(), ".vmres-test-no-such-key"));
  });
});
