import { startCleanup } from "../cleanup/component.js";
import { startSlack } from "../slack/index.js";
import type { ComponentFactory } from "./service.js";

/** The parts that join the service after the database is ready, started in this order. */
export const components: ComponentFactory[] = [startCleanup, startSlack];
