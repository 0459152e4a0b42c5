import { personText } from "../../core/people.js";
import { UsageError } from "../args.js";
import { done, type StandalonePrepare } from "../command.js";
import { EXIT, failure } from "../failures.js";
import { checkTransport, checkUrl, configFile, forgetLogin, saveLogin } from "../remote/target.js";
import { stringValue } from "../values.js";

/**
 * `vmres login URL [--token TOKEN] [--insecure]`: checks the token against the service
 * (`GET /v1/me`) and keeps URL and token in ~/.config/vmres/config.json, mode
 * 0600, for the person-level commands to go through the API. The token comes
 * from --token, else VMRES_TOKEN, else standard input (asked for without echo
 * on a terminal): --token is visible to others in `ps`, the other two are not.
 */
export const prepareLogin: StandalonePrepare = (input) => {
  const url = checkUrl(input.args["URL"] ?? "", "URL");
  if (typeof url !== "string") throw new UsageError(url.message);
  const insecure = input.options["insecure"] === true;
  const refused = checkTransport(url, "URL", insecure, `add --insecure (vmres login ${url} --insecure)`);
  if (refused) throw new UsageError(refused.message);
  const given = stringValue(input, "token");
  return async () => {
    const { call, remoteOf } = await import("../remote/api.js");
    let token: string;
    try {
      token = (given ?? process.env["VMRES_TOKEN"] ?? (await readToken())).trim();
    } catch (err) {
      if (err instanceof UsageError) return failure(EXIT.usage, err.code, err.message);
      throw err;
    }
    if (token === "") return failure(EXIT.usage, "usage", "no token given: pass it on standard input (vmres login URL < token.txt), in VMRES_TOKEN, or with --token. /vm token in Slack gives you one.");
    if (/\s/.test(token) || token.length > 200) return failure(EXIT.usage, "usage", "that is not an API token: a token is one word, like vmres_… (/vm token in Slack gives you one)");
    const remote = remoteOf({ url, token, from: "vmres login" });
    const me = await call(remote, (init) => remote.client.GET("/v1/me", init));
    if ("kind" in me) return me;
    if (!me.ok) return failure(EXIT.unexpected, me.refusal.code, `the vmres API at ${url} could not say whose token this is (${me.refusal.code})`);
    const file = configFile();
    saveLogin(file, { url, token, ...(insecure && url.startsWith("http:") ? { insecure: true as const } : {}) });
    const { person, admin } = me.value;
    return done(
      { url, person, admin, file },
      `Logged in to ${url} as ${personText(person)}${admin ? " (an admin)" : ""}. Kept in ${file}; vmres logout forgets it.\n` +
        "checkout, checkin, extend, wait, unwait, list, status, history, checkouts, reserve, reservations and reservation cancel now go through the API.",
    );
  };
};

/** `vmres logout`: forgets the login; commands use the database again. */
export const prepareLogout: StandalonePrepare = () => async () => {
  const file = configFile();
  const was = forgetLogin(file);
  const env = process.env["VMRES_URL"] || process.env["VMRES_TOKEN"] ? " VMRES_URL/VMRES_TOKEN are still set in this environment and still apply." : "";
  return done({ file, removed: was }, (was ? `Forgot the login kept in ${file}.` : `There was no login to forget (${file} does not exist).`) + env);
};

/** The token from standard input: the first line when piped; asked for, without echo, on a terminal. */
async function readToken(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    let text = "";
    for await (const chunk of stdin) {
      text += String(chunk);
      if (text.includes("\n") || text.length > 1000) break;
    }
    return text.split("\n")[0] ?? "";
  }
  process.stderr.write("API token (not shown): ");
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding("utf8");
  try {
    return await new Promise<string>((resolve, reject) => {
      let text = "";
      const onData = (chunk: string) => {
        for (const c of chunk) {
          if (c === "\r" || c === "\n") {
            stdin.off("data", onData);
            return resolve(text);
          }
          if (c === "\u0003") {
            stdin.off("data", onData);
            return reject(new UsageError("interrupted: nothing was kept"));
          }
          text = c === "\u007f" ? text.slice(0, -1) : text + c;
        }
      };
      stdin.on("data", onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write("\n");
  }
}
