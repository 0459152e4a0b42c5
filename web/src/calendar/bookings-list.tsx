import { useEffect, useRef, useState } from "preact/hooks";
import type { components } from "../../../src/client/index.js";
import { problemText } from "../problem.js";
import { usePage } from "../session.js";
import { personName } from "./bars.js";
import { Section, Table } from "../ui.js";
import { rangeText } from "./time.js";

type Reservation = components["schemas"]["Reservation"];

interface Props {
  bookings: Reservation[];
  onCancelled: (label: string) => void;
}

/**
 * The bookings the calendar shows, as a table (what the bars say, for screen readers and the
 * keyboard), with Cancel on the person's own: asked once more before it is done.
 */
export function BookingsList({ bookings, onCancelled }: Props) {
  const { session, timeZone } = usePage();
  const shown = bookings.filter((b) => b.state !== "cancelled").sort((a, b) => Date.parse(a.from) - Date.parse(b.from) || a.id - b.id);
  return (
    <Section id="cal-list-heading" title="Bookings shown">
      {shown.length === 0 ? (
        <p class="muted">No booking in this pool for these days.</p>
      ) : (
        <Table
          class="cal-list"
          cols={["Label", "Who", "VMs", `When (${timeZone})`, "State", <span class="sr-only">Actions</span>]}
          rows={shown}
          row={(b) => (
            <tr key={b.id}>
              <th scope="row">{b.label}</th>
              <td>{b.person ? personName(b.person) : "booked"}</td>
              <td>{b.vms.join(", ")}</td>
              <td>{rangeText(Date.parse(b.from), Date.parse(b.to), timeZone)}</td>
              <td>{b.state}</td>
              <td>{b.person?.id === session.person.id && (b.state === "booked" || b.state === "started") && <CancelButton label={b.label} onCancelled={onCancelled} />}</td>
            </tr>
          )}
        />
      )}
    </Section>
  );
}

function CancelButton({ label, onCancelled }: { label: string; onCancelled: (label: string) => void }) {
  const { api } = usePage();
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const yes = useRef<HTMLButtonElement>(null);
  // Focus goes to the question's answer, so a keyboard user is where the choice is.
  useEffect(() => {
    if (asking) yes.current?.focus();
  }, [asking]);
  if (!asking)
    return (
      <button type="button" class="secondary" onClick={() => setAsking(true)}>
        Cancel <span class="sr-only">{label}</span>
      </button>
    );
  const cancel = async () => {
    setBusy(true);
    const { data, error } = await api.DELETE("/v1/reservations/{label}", { params: { path: { label } } });
    setBusy(false);
    if (data) onCancelled(label);
    else setError(problemText(error));
  };
  return (
    <span class="cal-confirm">
      <span>Cancel {label}?</span>
      <button type="button" class="danger" disabled={busy} ref={yes} onClick={() => void cancel()}>
        Yes, cancel {label}
      </button>
      <button type="button" class="secondary" disabled={busy} onClick={() => setAsking(false)}>
        Keep it
      </button>
      {error && <span role="alert">{error}</span>}
    </span>
  );
}
