import type { App } from "@slack/bolt";
import type { SlackDeps } from "../../deps.js";
import { vmCommandListener } from "./vm.js";

export function register(app: App, deps: SlackDeps): void {
  app.command("/vm", vmCommandListener(deps));
}
