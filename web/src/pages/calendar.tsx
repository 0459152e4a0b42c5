import { useEffect, useMemo, useState } from "preact/hooks";
import type { components } from "../../../src/client/index.js";
import { barsOf } from "../calendar/bars.js";
import { BookForm } from "../calendar/book-form.js";
import { BookingsList } from "../calendar/bookings-list.js";
import { addDays, dateOf, formatIn, HOUR, isCivilDate, rangeText, windowOf } from "../calendar/time.js";
import { Timeline, type Selection } from "../calendar/timeline.js";
import "../calendar/calendar.css";
import { useLive } from "../live.js";
import { problemText } from "../problem.js";
import { usePage } from "../session.js";

type Pool = components["schemas"]["Pool"];
type Vm = components["schemas"]["Vm"];
type Reservation = components["schemas"]["Reservation"];

type View = "day" | "week";

/** What the page shows, kept in the address (?pool=&view=&date=) so it can be linked and reloaded. */
interface Shown {
  pool: string | null;
  view: View;
  date: string;
}

function shownFromAddress(zone: string): Shown {
  const q = new URLSearchParams(location.search);
  const date = q.get("date");
  return {
    pool: q.get("pool"),
    view: q.get("view") === "week" ? "week" : "day",
    date: date !== null && isCivilDate(date) ? date : dateOf(Date.now(), zone),
  };
}

/** The bookings calendar: per pool, VMs as rows and time as columns; bookings and leases as bars. */
export function CalendarPage() {
  const { api, session, timeZone } = usePage();
  const [shown, setShown] = useState<Shown>(() => shownFromAddress(timeZone));
  const [pools, setPools] = useState<Pool[] | null>(null);
  const [vms, setVms] = useState<Vm[]>([]);
  const [bookings, setBookings] = useState<Reservation[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [said, setSaid] = useState("");
  const [selection, setSelection] = useState<Selection | null>(null);
  const [now, setNow] = useState(Date.now());
  const [reloads, setReloads] = useState(0);
  const frame = useMemo(() => windowOf(shown.view, shown.date, timeZone), [shown.view, shown.date, timeZone]);
  // A pool named in the address that does not exist (any more) falls back to the first.
  const pool = pools?.some((p) => p.name === shown.pool) ? shown.pool : (pools?.[0]?.name ?? null);

  useEffect(() => {
    void api.GET("/v1/pools").then(({ data, error }) => {
      if (data) setPools(data);
      else setError(problemText(error));
    });
  }, [api]);
  useEffect(() => {
    const q = new URLSearchParams({ ...(pool ? { pool } : {}), view: shown.view, date: shown.date });
    history.replaceState(null, "", `${location.pathname}?${q.toString()}`);
  }, [pool, shown.view, shown.date]);
  // A booking or checkout of this pool made elsewhere shows without a reload.
  useLive(() => setReloads((n) => n + 1), pool ?? undefined);
  // The now line moves once a minute.
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 60_000);
    return () => clearInterval(timer);
  }, []);
  useEffect(() => {
    if (!pool) return;
    let current = true;
    const from = new Date(frame.start).toISOString();
    const to = new Date(frame.end).toISOString();
    void Promise.all([
      api.GET("/v1/vms", { params: { query: { pool } } }),
      api.GET("/v1/reservations", { params: { query: { pool, all: "true", from, to } } }),
    ]).then(([v, r]) => {
      if (!current) return;
      if (v.data && r.data) {
        setVms(v.data.filter((vm) => vm.state !== "retired"));
        setBookings(r.data);
        setNow(Date.now());
        setError(null);
      } else setError(problemText(v.error ?? r.error));
    });
    return () => {
      current = false;
    };
  }, [api, pool, frame, reloads]);

  const bars = useMemo(() => barsOf(bookings, vms, session.person.id), [bookings, vms, session.person.id]);
  const vmNames = vms.map((v) => v.name).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const move = (days: number) => setShown({ ...shown, date: addDays(shown.date, days) });
  const step = shown.view === "day" ? 1 : 7;
  const title =
    shown.view === "day"
      ? formatIn(timeZone, "day").format(frame.start)
      : `${formatIn(timeZone, "title").format(frame.start)} – ${formatIn(timeZone, "title").format(frame.end - 1)}`;
  const nextHour = Math.max(frame.start, Math.ceil(Date.now() / HOUR) * HOUR);

  return (
    <>
      <h1>Bookings calendar</h1>
      {error && <p role="alert">{error}</p>}
      {pools === null && !error && <p>Loading…</p>}
      {pools && pools.length === 0 && <p>There is no pool yet.</p>}
      {pools && pool && (
        <>
          <div class="cal-toolbar">
            <div class="cal-field">
              <label for="cal-pool">Pool</label>
              <select
                id="cal-pool"
                value={pool}
                onChange={(e) => {
                  setSelection(null);
                  setShown({ ...shown, pool: e.currentTarget.value });
                }}
              >
                {pools.map((p) => (
                  <option key={p.name} value={p.name}>
                    {p.name}
                  </option>
                ))}
              </select>
            </div>
            <fieldset class="cal-views">
              <legend>View</legend>
              {(["day", "week"] as const).map((v) => (
                <button key={v} type="button" class={shown.view === v ? "" : "secondary"} aria-pressed={shown.view === v} onClick={() => setShown({ ...shown, view: v })}>
                  {v === "day" ? "Day" : "Week"}
                </button>
              ))}
            </fieldset>
            <div class="cal-nav" role="group" aria-label="Move in time">
              <button type="button" class="secondary" onClick={() => move(-step)}>
                Previous {shown.view}
              </button>
              <button type="button" class="secondary" onClick={() => setShown({ ...shown, date: dateOf(Date.now(), timeZone) })}>
                Today
              </button>
              <button type="button" class="secondary" onClick={() => move(step)}>
                Next {shown.view}
              </button>
            </div>
          </div>
          <h2 class="cal-title" aria-live="polite">
            {title} <span class="muted">({timeZone})</span>
          </h2>
          <p class="cal-legend muted">
            <span class="cal-key cal-booking" aria-hidden="true" /> booking <span class="cal-key cal-booking cal-mine" aria-hidden="true" /> yours{" "}
            <span class="cal-key cal-lease" aria-hidden="true" /> lease (checked out) <span class="cal-key cal-now-key" aria-hidden="true" /> now
          </p>
          {vmNames.length === 0 ? (
            <p>Pool {pool} has no VM.</p>
          ) : (
            <Timeline frame={frame} zone={timeZone} vms={vmNames} bars={bars} now={now} onSelect={setSelection} />
          )}
          <p role="status" class="ok">
            {said}
          </p>
          <BookForm
            key={pool}
            pool={pool}
            vms={vmNames}
            selection={selection}
            defaultFrom={nextHour < frame.end ? nextHour : frame.start + 9 * HOUR}
            onBooked={(b) => {
              setSaid(`Booked ${b.label}: ${b.vms.join(", ")}, ${rangeText(Date.parse(b.from), Date.parse(b.to), timeZone)}.`);
              setReloads((n) => n + 1);
            }}
          />
          <BookingsList
            bookings={bookings}
            onCancelled={(label) => {
              setSaid(`Cancelled ${label}.`);
              setReloads((n) => n + 1);
            }}
          />
        </>
      )}
    </>
  );
}
