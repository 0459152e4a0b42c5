import { spawn } from "node:child_process";
import * as z from "zod";
import { ProviderError, type CreatedMachine, type ListedMachine, type Provider } from "./provider.js";
import { SSH_USER } from "../core/names.js";

const executable = z.string().min(1);

/**
 * A command pool's `provider_settings`: the operator's executables, one per
 * step, or one `command` that gets the step as its first argument. See
 * docs/provisioned-pools.md for the arguments and the JSON each prints.
 */
export const commandSettingsSchema = z
  .object({
    command: executable.optional(),
    create: executable.optional(),
    start: executable.optional(),
    stop: executable.optional(),
    delete: executable.optional(),
    save_image: executable.optional(),
    delete_image: executable.optional(),
    list: executable.optional(),
    sshUser: z.string().regex(SSH_USER).default("root"),
    sshPort: z.number().int().min(1).max(65535).default(22),
  })
  .strict()
  .refine((s) => s.command !== undefined || ["create", "stop", "delete", "save_image", "delete_image", "list"].every((k) => s[k as keyof typeof s] !== undefined), {
    message: "give `command` (one executable for every step) or an executable for each of create, stop, delete, save_image, delete_image, list",
  });
export type CommandSettings = z.infer<typeof commandSettingsSchema>;

type Step = "create" | "start" | "stop" | "delete" | "save_image" | "delete_image" | "list";

const createdSchema = z.object({ ref: z.string().min(1), ip: z.string().min(1), sshUser: z.string().optional(), sshPort: z.number().int().optional() });
const savedSchema = z.object({ ref: z.string().min(1) });
const listedSchema = z.array(z.object({ name: z.string().min(1), ref: z.string().min(1) }));

/**
 * Each step runs the operator's executable (no shell), with the arguments of
 * docs/provisioned-pools.md, in its own process group, killed (the whole
 * group) after the timeout. Exit 0 is success; the
 * steps that answer print one JSON value on stdout. The scripts must be
 * idempotent, as vmres repeats a step that a crash interrupted.
 */
export function commandProvider(settings: CommandSettings, timeoutMs: number): Provider {
  async function run(step: Step, args: string[]): Promise<string> {
    const own = settings[step];
    const argv = own !== undefined ? [own, ...args] : settings.command !== undefined ? [settings.command, step, ...args] : null;
    if (!argv) {
      if (step === "start") return "{}"; // optional: create starts
      throw new ProviderError(`no executable for step ${step}`);
    }
    return runStep(step, argv as [string, ...string[]], timeoutMs);
  }
  function parse<T>(step: Step, out: string, schema: z.ZodType<T>): T {
    let value: unknown;
    try {
      value = JSON.parse(out.trim());
    } catch {
      throw new ProviderError(`${step} printed no JSON on stdout: ${JSON.stringify(out.slice(0, 300))}`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new ProviderError(`${step} printed JSON of the wrong shape: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    return parsed.data;
  }
  return {
    create: async ({ name, source, pool }): Promise<CreatedMachine> => {
      const made = parse("create", await run("create", [name, source, pool]), createdSchema);
      return { ref: made.ref, ip: made.ip, sshUser: made.sshUser ?? settings.sshUser, sshPort: made.sshPort ?? settings.sshPort };
    },
    start: async (ref) => void (await run("start", [ref])),
    stop: async (ref) => void (await run("stop", [ref])),
    delete: async (ref) => void (await run("delete", [ref])),
    saveImage: async (ref, name) => parse("save_image", await run("save_image", [ref, name]), savedSchema).ref,
    deleteImage: async (ref) => void (await run("delete_image", [ref])),
    list: async (pool): Promise<ListedMachine[]> => parse("list", await run("list", [pool]), listedSchema),
  };
}

/** How long the output of a step whose executable has exited may keep coming (from what it left running, killed by then). */
const DRAIN_MS = 2000;

/**
 * Runs one step as the leader of its own process group (`detached`: setsid),
 * and settles when the executable exits, not when its pipes close: a script
 * that runs `sleep`, `curl` or `terraform` passes its pipes to them, so waiting
 * for the pipes would wait for those too. At the timeout the whole group is
 * killed; when the executable exits, whatever it left in its group is killed
 * too (it would hold the pipes open, and a step is over when its executable
 * is). Output is decoded as UTF-8 across chunk boundaries.
 */
function runStep(step: Step, argv: [string, ...string[]], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d: string) => (out = (out + d).slice(-1_000_000)));
    child.stderr.on("data", (d: string) => (err = (err + d).slice(-4000)));
    let timedOut = false;
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // ESRCH: the group is empty already.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(new ProviderError(`${step}: cannot run ${argv[0]}: ${e.message}`, { cause: e }));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      killGroup();
      // What the executable wrote before it exited may still be in the pipes: read it, but for a bounded time
      // (a process that left the group with setsid could hold them open for ever).
      const drained = Promise.all([child.stdout, child.stderr].map((stream) => (stream.readableEnded || stream.destroyed ? null : new Promise((r) => stream.once("close", r)))));
      let drainTimer: NodeJS.Timeout | undefined;
      void Promise.race([drained, new Promise((r) => (drainTimer = setTimeout(r, DRAIN_MS)))]).then(() => {
        clearTimeout(drainTimer);
        child.stdout.destroy();
        child.stderr.destroy();
        if (timedOut) reject(new ProviderError(`${step} (${argv[0]}) did not finish within ${timeoutMs} ms; its process group was killed`));
        else if (code === 0) resolve(out);
        else reject(new ProviderError(`${step} (${argv.join(" ")}) exited with ${code ?? signal}: ${err.trim().slice(-1000) || "(no stderr)"}`));
      });
    });
  });
}
