import { useEffect, useState } from "preact/hooks";

/** The path shown; links inside the page change it without a reload (history.pushState). */
export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener("popstate", onPop);
    addEventListener("vmres:navigate", onPop);
    return () => {
      removeEventListener("popstate", onPop);
      removeEventListener("vmres:navigate", onPop);
    };
  }, []);
  return path;
}

/** Goes to another page of the app without a reload. */
export function navigate(to: string): void {
  if (to === location.pathname + location.search) return;
  history.pushState(null, "", to);
  dispatchEvent(new Event("vmres:navigate"));
}

/** A click on an in-app link: handled here unless a modifier asks for a new tab. */
export function onLinkClick(event: MouseEvent): void {
  const link = (event.currentTarget as HTMLAnchorElement | null) ?? null;
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(link.getAttribute("href") ?? "/");
}
