import type { FunctionComponent } from "preact";
import { AdminPage } from "./pages/admin.js";
import { PoolsPage } from "./pages/pools.js";

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
  { path: "/admin", title: "Admin", admin: true, component: AdminPage },
];
