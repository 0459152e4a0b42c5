import { useEffect } from "preact/hooks";
import { ROUTES } from "./routes.js";
import { onLinkClick, usePath } from "./router.js";
import { Page, usePage, type PageContext } from "./session.js";

export function App({ context }: { context: PageContext }) {
  return (
    <Page.Provider value={context}>
      <Shell />
    </Page.Provider>
  );
}

function Shell() {
  const { session } = usePage();
  const path = usePath();
  const routes = ROUTES.filter((r) => !r.admin || session.admin);
  const route = routes.find((r) => r.path === path);
  useEffect(() => {
    document.title = `${route?.title ?? "Not found"} · vmres`;
  }, [route]);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/" onClick={onLinkClick}>
          vmres
        </a>
        <nav aria-label="Pages">
          <ul>
            {routes.map((r) => (
              <li key={r.path}>
                <a href={r.path} onClick={onLinkClick} aria-current={r.path === path ? "page" : undefined}>
                  {r.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span>
            Signed in as <strong>{session.person.displayName ?? session.person.name}</strong>
            {session.admin ? " (admin)" : ""}
          </span>
          <form method="post" action="/logout">
            <input type="hidden" name="csrf" value={session.csrfToken} />
            <button type="submit" class="secondary">
              Sign out
            </button>
          </form>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {route ? (
          <route.component />
        ) : (
          <>
            <h1>No such page</h1>
            <p>
              <a href="/" onClick={onLinkClick}>
                Back to the pools
              </a>
            </p>
          </>
        )}
      </main>
    </>
  );
}
