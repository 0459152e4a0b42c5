import { readFileSync } from "node:fs";
import { get } from "node:http";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";

// The page as the test run's global setup built it (scripts/build.js → dist/page).
const PAGE = new URL("../../dist/page/", import.meta.url);
const BUDGET_GZIPPED = 150 * 1024;

describe("the web page's first load", () => {
  it("loads at most 150 KB of JavaScript, gzipped, and nothing from another host", () => {
    const index = readFileSync(new URL("index.html", PAGE), "utf8");
    const scripts = [...index.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]!);
    const styles = [...index.matchAll(/<link rel="stylesheet"[^>]*\shref="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    // Served by vmres itself: the page works on a machine with no internet.
    for (const url of [...scripts, ...styles]) expect(url).toMatch(/^\/assets\//);
    const bytes = scripts.reduce((sum, url) => sum + gzipSync(readFileSync(new URL(`.${url}`, PAGE))).length, 0);
    expect(bytes).toBeLessThanOrEqual(BUDGET_GZIPPED);
    // Every chunk the script imports is counted too: the bundle has none today.
    const meta = JSON.parse(readFileSync(new URL("meta.json", PAGE), "utf8")) as { outputs: Record<string, unknown> };
    const js = Object.keys(meta.outputs).filter((f) => f.endsWith(".js"));
    expect(js.map((f) => f.split("/").pop())).toEqual(scripts.map((s) => s.split("/").pop()));
  });
});

describe("the web page's assets", () => {
  it("are asked for again by the browser each time (no-cache, 304 when unchanged), so an upgrade shows at once", async () => {
    const { startApiHarness } = await import("../api/helpers.js");
    const h = await startApiHarness();
    try {
      const first = await fetch(`${h.url}/assets/app.js`);
      expect(first.status).toBe(200);
      expect(first.headers.get("cache-control")).toBe("no-cache");
      const etag = first.headers.get("etag");
      expect(etag).toBeTruthy();
      // As a browser revalidates (fetch() would add Cache-Control: no-cache to a conditional request, which forbids a 304).
      const status = await new Promise<number | undefined>((resolve, reject) =>
        get(`${h.url}/assets/app.js`, { headers: { "if-none-match": etag! } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        }).on("error", reject),
      );
      expect(status).toBe(304);
    } finally {
      await h.stop();
    }
  });
});
