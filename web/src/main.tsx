import { render } from "preact";
import { App } from "./app.js";
import { loadSession, pageContext } from "./session.js";

const root = document.getElementById("app");
if (!root) throw new Error("index.html has no #app");

const session = await loadSession().catch((err: unknown) => {
  root.innerHTML = "";
  const p = document.createElement("p");
  p.setAttribute("role", "alert");
  p.textContent = `vmres could not be reached: ${String(err)}. Reload the page to try again.`;
  root.append(p);
  return undefined;
});
if (session === null) location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
else if (session) {
  root.innerHTML = "";
  render(<App context={pageContext(session)} />, root);
}
