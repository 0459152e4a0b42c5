import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { components } from "../../../src/client/index.js";
import { problemText } from "../problem.js";
import { usePage } from "../session.js";
import { fromLocalInput, localInputValue, rangeText } from "./time.js";
import type { Selection } from "./timeline.js";

type Reservation = components["schemas"]["Reservation"];

/** A refusal as the form shows it: the core's words, and for "not enough free" what is free and the nearest fit. */
interface Refused {
  text: string;
  nearest: { from: number; to: number } | null;
}

interface Props {
  pool: string;
  vms: string[];
  /** A range dragged on the timeline: fills the form. */
  selection: Selection | null;
  /** A time to start from when nothing was dragged (the window's first day, at the next hour). */
  defaultFrom: number;
  onBooked: (booked: Reservation) => void;
}

/**
 * Book VMs of the pool for a range: any `count` of them or one named VM. The keyboard's way to do
 * what a drag on the timeline starts. Times are read in the person's zone, whatever the browser's.
 * A refusal stays in the form (role="alert"); when the core found the nearest range that fits,
 * one click books that instead.
 */
export function BookForm({ pool, vms, selection, defaultFrom, onBooked }: Props) {
  const { api, timeZone } = usePage();
  const [vm, setVm] = useState("");
  const [count, setCount] = useState("1");
  const [from, setFrom] = useState(localInputValue(defaultFrom, timeZone));
  const [to, setTo] = useState(localInputValue(defaultFrom + 3_600_000, timeZone));
  const [label, setLabel] = useState("");
  const [note, setNote] = useState("");
  const [refused, setRefused] = useState<Refused | null>(null);
  const [busy, setBusy] = useState(false);
  const labelInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (!selection) return;
    setVm(selection.vm);
    setFrom(localInputValue(selection.from, timeZone));
    setTo(localInputValue(selection.to, timeZone));
    setRefused(null);
    labelInput.current?.focus();
  }, [selection, timeZone]);
  // A VM of another pool is no choice here.
  useEffect(() => {
    if (vm !== "" && !vms.includes(vm)) setVm("");
  }, [vms, vm]);

  const book = async (range?: { from: number; to: number }) => {
    const start = range?.from ?? fromLocalInput(from, timeZone);
    const end = range?.to ?? fromLocalInput(to, timeZone);
    const wanted = Number(count);
    const wrong =
      start === null
        ? "From: give a date and a time"
        : end === null
          ? "To: give a date and a time"
          : end <= start
            ? "To: the end must be after the start"
            : label.trim() === ""
              ? "Label: give the booking a name (lowercase letters, digits, '-' or '.')"
              : vm === "" && !(Number.isInteger(wanted) && wanted >= 1)
                ? "How many: give a whole number of VMs, at least 1"
                : null;
    if (wrong || start === null || end === null) {
      setRefused({ text: wrong ?? "", nearest: null });
      return;
    }
    if (range) {
      setFrom(localInputValue(range.from, timeZone));
      setTo(localInputValue(range.to, timeZone));
    }
    setBusy(true);
    const { data, error } = await api.POST("/v1/reservations", {
      body: {
        pool,
        ...(vm === "" ? { count: wanted } : { vms: [vm] }),
        from: new Date(start).toISOString(),
        to: new Date(end).toISOString(),
        label: label.trim(),
        ...(note.trim() ? { note: note.trim() } : {}),
      },
    });
    setBusy(false);
    if (data) {
      setRefused(null);
      setLabel("");
      setNote("");
      onBooked(data);
      return;
    }
    setRefused(refusalOf(error, timeZone));
  };

  return (
    <form
      class="cal-form"
      aria-labelledby="cal-book-heading"
      onSubmit={(e) => {
        e.preventDefault();
        void book();
      }}
    >
      <h2 id="cal-book-heading">Book VMs of {pool}</h2>
      <p class="muted">Drag across a VM's row to pick a range, or fill in the form. Times are in {timeZone}.</p>
      <div class="cal-fields">
        {/* Labels name their control by id: a label wrapping a select would also read out its options. */}
        <Field id="cal-vm" label="VM">
          <select id="cal-vm" value={vm} onChange={(e) => setVm(e.currentTarget.value)}>
            <option value="">Any free VM</option>
            {vms.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </Field>
        <Field id="cal-count" label="How many">
          <input id="cal-count" type="number" min={1} max={Math.max(1, vms.length)} value={vm === "" ? count : "1"} disabled={vm !== ""} onInput={(e) => setCount(e.currentTarget.value)} />
        </Field>
        <Field id="cal-from" label="From">
          <input id="cal-from" type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
        </Field>
        <Field id="cal-to" label="To">
          <input id="cal-to" type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        </Field>
        <Field id="cal-label" label="Label">
          <input id="cal-label" ref={labelInput} type="text" maxLength={63} value={label} onInput={(e) => setLabel(e.currentTarget.value)} />
        </Field>
        <Field id="cal-note" label="Note" wide>
          <input id="cal-note" type="text" maxLength={500} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        </Field>
        <button type="submit" disabled={busy}>
          Book
        </button>
      </div>
      {refused && (
        <div role="alert" class="cal-refused">
          <p>{refused.text}</p>
          {refused.nearest && (
            <button type="button" disabled={busy} onClick={() => void book(refused.nearest!)}>
              Book {rangeText(refused.nearest.from, refused.nearest.to, timeZone)} instead
            </button>
          )}
        </div>
      )}
    </form>
  );
}

function Field({ id, label, wide, children }: { id: string; label: string; wide?: boolean; children: ComponentChildren }) {
  return (
    <div class={wide ? "cal-field cal-wide" : "cal-field"}>
      <label for={id}>{label}</label>
      {children}
    </div>
  );
}

/** The core's refusal in the person's zone: for not_enough_free, how many are free and the nearest range. */
function refusalOf(error: unknown, zone: string): Refused {
  const p = (error ?? {}) as Record<string, unknown>;
  if (p.code !== "not_enough_free") return { text: problemText(error), nearest: null };
  const asked = { from: Date.parse(String(p.from)), to: Date.parse(String(p.to)) };
  const near = p.nearest as { from: string; to: string } | null;
  const nearest = near ? { from: Date.parse(near.from), to: Date.parse(near.to) } : null;
  const free = Number(p.free);
  return {
    text:
      `Only ${free} of the ${Number(p.count)} VM${Number(p.count) === 1 ? "" : "s"} asked for ${free === 1 ? "is" : "are"} free in ${String(p.pool)} for ${rangeText(asked.from, asked.to, zone)}. ` +
      (nearest ? `The nearest range that fits: ${rangeText(nearest.from, nearest.to, zone)}.` : "No range of that length fits soon."),
    nearest,
  };
}
