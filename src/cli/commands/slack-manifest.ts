import { checkManifestUrl, manifestObject, manifestYaml, type ManifestMode } from "../../slack/manifest.js";
import { UsageError } from "../args.js";
import { done, type StandalonePrepare } from "../command.js";

/**
 * `vmres slack manifest [--url URL | --socket]`: prints the Slack app's
 * manifest (src/slack/manifest.ts) to paste at api.slack.com. Needs neither
 * the database nor the API; --json prints it as apps.manifest.create takes it.
 */
export const prepareSlackManifest: StandalonePrepare = (input) => {
  const raw = input.options["url"];
  if (typeof raw === "string" && input.options["socket"] === true) {
    throw new UsageError("--url and --socket exclude each other: Socket Mode needs no request URL; leave out --socket for HTTP mode");
  }
  let mode: ManifestMode = { kind: "socket" };
  if (typeof raw === "string") {
    const checked = checkManifestUrl(raw);
    if ("problem" in checked) throw new UsageError(checked.problem);
    mode = { kind: "http", url: checked.url };
  }
  return () => Promise.resolve(done(manifestObject(mode), manifestYaml(mode)));
};
