import { useEffect, useRef, useState } from "preact/hooks";
import { placement, type Bar } from "./bars.js";
import { formatIn, HOUR, hourMarks, rangeText, type CalendarWindow } from "./time.js";

/** A range picked on a VM's row by dragging (or a click: one hour). */
export interface Selection {
  vm: string;
  from: number;
  to: number;
}

interface Props {
  frame: CalendarWindow;
  zone: string;
  vms: string[];
  bars: Bar[];
  now: number;
  onSelect: (selection: Selection) => void;
}

/**
 * VMs as rows, time as columns. The x axis is real time ([frame.start, frame.end) is 100% of a
 * track), so hours are equally wide, a 23-hour day is narrower than a 24-hour one, and a bar is as
 * long as its range lasts. A table: each row's header is the VM, read with its bars.
 */
export function Timeline({ frame, zone, vms, bars, now, onSelect }: Props) {
  const hours = (frame.end - frame.start) / HOUR;
  const byVm = new Map<string, Bar[]>();
  for (const bar of bars) byVm.set(bar.vm, [...(byVm.get(bar.vm) ?? []), bar]);
  const nowAt = now >= frame.start && now < frame.end ? ((now - frame.start) / (frame.end - frame.start)) * 100 : null;
  const { scroller, first, last, rowHeight } = useVisibleRows(vms.length);
  return (
    <div ref={scroller} class="cal-scroll" role="region" aria-label="Timeline: VMs and their bookings and leases" tabIndex={0}>
      <table class={`cal cal-view-${frame.view}`} style={{ "--hours": hours }} aria-rowcount={vms.length + 1}>
        <thead>
          <tr aria-rowindex={1}>
            <th scope="col" class="cal-vm">
              VM
            </th>
            <th scope="col" class="cal-axis">
              <Axis frame={frame} zone={zone} nowAt={nowAt} />
            </th>
          </tr>
        </thead>
        <tbody>
          {first > 0 && <Spacer height={first * rowHeight} />}
          {vms.slice(first, last).map((vm, i) => (
            <tr key={vm} aria-rowindex={first + i + 2}>
              <th scope="row" class="cal-vm">
                {vm}
              </th>
              <td class="cal-cell">
                <Track vm={vm} frame={frame} zone={zone} bars={byVm.get(vm) ?? []} nowAt={nowAt} onSelect={onSelect} />
              </td>
            </tr>
          ))}
          {last < vms.length && <Spacer height={(vms.length - last) * rowHeight} />}
        </tbody>
      </table>
    </div>
  );
}

/** Rows drawn beyond the visible ones, above and below, so a quick scroll shows no gap. */
const OVERSCAN = 15;
/** A row's height before one is measured (2.7rem and its border at 16px). */
const ROW_GUESS = 44;

/**
 * Which rows to draw: a pool of 1,000 VMs draws the few dozen in view of the timeline's own
 * scroller (CSS gives it at most 75% of the window's height) and spacers for the rest, so the page
 * renders in a fraction of the time; aria-rowcount and aria-rowindex tell screen readers the whole.
 */
function useVisibleRows(count: number) {
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 800, rowHeight: ROW_GUESS });
  useEffect(() => {
    const box = scroller.current;
    if (!box) return;
    const measure = () => {
      const row = box.querySelector<HTMLElement>("tbody tr:not(.cal-spacer)");
      setView({ top: box.scrollTop, height: box.clientHeight || 800, rowHeight: row?.offsetHeight || ROW_GUESS });
    };
    measure();
    box.addEventListener("scroll", measure, { passive: true });
    addEventListener("resize", measure);
    return () => {
      box.removeEventListener("scroll", measure);
      removeEventListener("resize", measure);
    };
  }, []);
  const first = Math.max(0, Math.floor(view.top / view.rowHeight) - OVERSCAN);
  const last = Math.min(count, Math.ceil((view.top + view.height) / view.rowHeight) + OVERSCAN);
  return { scroller, first, last, rowHeight: view.rowHeight };
}

function Spacer({ height }: { height: number }) {
  return (
    <tr class="cal-spacer" aria-hidden="true">
      <td colSpan={2} style={{ height: `${height}px` }} />
    </tr>
  );
}

const pct = (at: number, frame: CalendarWindow) => ((at - frame.start) / (frame.end - frame.start)) * 100;

function Axis({ frame, zone, nowAt }: { frame: CalendarWindow; zone: string; nowAt: number | null }) {
  return (
    <div class="cal-track cal-ticks">
      {frame.view === "day"
        ? hourMarks(frame, zone).map((m) => (
            <span key={m.at} class="cal-hour" style={{ left: `${pct(m.at, frame)}%` }} data-at={m.at}>
              {String(m.hour).padStart(2, "0")}
            </span>
          ))
        : frame.days.map((d) => (
            <span key={d.date} class="cal-day" style={{ left: `${pct(d.start, frame)}%`, width: `${pct(d.end, frame) - pct(d.start, frame)}%` }} data-at={d.start}>
              {formatIn(zone, "dayShort").format(d.start)}
            </span>
          ))}
      {nowAt !== null && (
        <span class="cal-now-label" style={{ left: `${nowAt}%` }}>
          now
        </span>
      )}
    </div>
  );
}

/** One VM's row: day lines, bars, the now line, and a range being dragged. */
function Track({ vm, frame, zone, bars, nowAt, onSelect }: { vm: string; frame: CalendarWindow; zone: string; bars: Bar[]; nowAt: number | null; onSelect: (s: Selection) => void }) {
  const [drag, setDrag] = useState<{ a: number; b: number } | null>(null);
  const track = useRef<HTMLDivElement>(null);
  // Day view snaps to half hours, week view to hours, counted from the frame's start (a midnight in the zone).
  const step = frame.view === "day" ? HOUR / 2 : HOUR;
  const span = frame.end - frame.start;
  const instantAt = (clientX: number): number => {
    const box = track.current!.getBoundingClientRect();
    const fraction = Math.min(1, Math.max(0, (clientX - box.left) / box.width));
    return frame.start + Math.round((fraction * span) / step) * step;
  };
  const onPointerDown = (e: PointerEvent) => {
    if (e.button !== 0) return;
    (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
    const at = instantAt(e.clientX);
    setDrag({ a: at, b: at });
  };
  const onPointerMove = (e: PointerEvent) => {
    if (drag) setDrag({ a: drag.a, b: instantAt(e.clientX) });
  };
  const onPointerUp = (e: PointerEvent) => {
    if (!drag) return;
    const b = instantAt(e.clientX);
    setDrag(null);
    const from = Math.min(drag.a, b);
    const to = Math.max(drag.a, b);
    // A click (no drag) picks the hour from where it was clicked.
    onSelect(to > from ? { vm, from, to } : { vm, from, to: Math.min(from + HOUR, frame.end) });
  };
  return (
    <div
      ref={track}
      class="cal-track cal-lane"
      data-vm={vm}
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={onPointerUp}
      onPointerCancel={() => setDrag(null)}
    >
      {frame.view === "week" && frame.days.slice(1).map((d) => <span key={d.date} class="cal-dayline" style={{ left: `${pct(d.start, frame)}%` }} aria-hidden="true" />)}
      {bars.map((bar) => {
        const at = placement(bar, frame);
        if (!at) return null;
        return (
          <div
            key={bar.key}
            class={`cal-bar cal-${bar.kind}${bar.mine ? " cal-mine" : ""}`}
            style={{ left: `${at.left}%`, width: `${at.width}%` }}
            data-from={bar.from}
            data-to={bar.to ?? ""}
            title={`${bar.title} · ${bar.owner}: ${bar.to === null ? `from ${formatIn(zone, "dateTime").format(bar.from)}, no end` : rangeText(bar.from, bar.to, zone)}`}
          >
            <span class="cal-bar-text">
              {bar.title} · {bar.owner}
            </span>
            <span class="sr-only">
              , {bar.to === null ? `from ${formatIn(zone, "dateTime").format(bar.from)}, no end` : rangeText(bar.from, bar.to, zone)}
            </span>
          </div>
        );
      })}
      {nowAt !== null && <span class="cal-now" style={{ left: `${nowAt}%` }} aria-hidden="true" />}
      {drag && drag.a !== drag.b && (
        <span class="cal-selecting" style={{ left: `${pct(Math.min(drag.a, drag.b), frame)}%`, width: `${(Math.abs(drag.b - drag.a) / span) * 100}%` }} aria-hidden="true" />
      )}
    </div>
  );
}
