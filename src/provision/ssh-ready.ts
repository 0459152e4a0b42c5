import { connect } from "node:net";
import { ProviderError } from "./provider.js";

/** Waits until something at ip:port greets with an SSH banner (`SSH-`), trying every half second, or throws after timeoutMs. */
export async function waitForSsh(ip: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    const answered = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: ip, port });
      let seen = "";
      const done = (ok: boolean, why?: string) => {
        if (why) last = why;
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(Math.min(5000, Math.max(100, deadline - Date.now())), () => done(false, "no banner"));
      socket.on("data", (d: Buffer) => {
        seen += d.toString("latin1");
        if (seen.startsWith("SSH-")) done(true);
        else if (seen.length >= 4) done(false, `not SSH: ${JSON.stringify(seen.slice(0, 40))}`);
      });
      socket.on("error", (err) => done(false, err.message));
      socket.on("close", () => done(false));
    });
    if (answered) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new ProviderError(`SSH on ${ip}:${port} did not answer within ${timeoutMs} ms (${last})`);
}
