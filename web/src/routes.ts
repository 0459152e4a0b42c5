import type { FunctionComponent } from "preact";
import { MinePage } from "./pages/mine.js";
import { CalendarPage } from "./pages/calendar.js";
import { AdminPage } from "./pages/admin.js";
import { PoolsPage } from "./pages/pools.js";
import { VmsPage } from "./pages/vms.js";

/** One page of the app: its path (served by src/web/routes.ts PAGES), its title, and who may see it. */
export interface Route {
  path: string;
  title: string;
  /** Shown in the menu and opened for admins only (the server refuses it to others too). */
  admin?: boolean;
  component: FunctionComponent;
}

/** Every page, in menu order. A path added here is added to PAGES in src/web/routes.ts too. */
export const ROUTES: Route[] = [
  { path: "/", title: "Pools", component: PoolsPage },
  { path: "/vms", title: "VMs", component: VmsPage },
  { path: "/mine", title: "Mine", component: MinePage },
  { path: "/calendar", title: "Calendar", component: CalendarPage },
  { path: "/admin", title: "Admin", admin: true, component: AdminPage },
];
