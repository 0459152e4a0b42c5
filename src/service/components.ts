import type { ComponentFactory } from "./service.js";

/** The parts that join the service after the database is ready, started in this order. */
export const components: ComponentFactory[] = [];
