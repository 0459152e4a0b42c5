import type { App, ViewSubmitAction } from "@slack/bolt";
import type { SlackDeps } from "../../deps.js";
import { RESERVE_FORM } from "../../views/reserve-modal.js";
import { reserveFormListener } from "./reserve-form.js";

export function register(app: App, deps: SlackDeps): void {
  app.view<ViewSubmitAction>({ callback_id: RESERVE_FORM, type: "view_submission" }, reserveFormListener(deps));
}
