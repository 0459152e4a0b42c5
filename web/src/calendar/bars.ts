import type { components } from "../../../src/client/index.js";
import type { CalendarWindow } from "./time.js";

type Reservation = components["schemas"]["Reservation"];
type Vm = components["schemas"]["Vm"];
type Person = components["schemas"]["Person"];

/** One bar on a VM's row: a booking of it, or its checkout (a lease). */
export interface Bar {
  kind: "booking" | "lease";
  key: string;
  vm: string;
  from: number;
  /** null: a lease with no end (pinned); drawn to the frame's end. */
  to: number | null;
  /** What the bar says first: the booking's label, or "lease". */
  title: string;
  /** Who: the person's name, or what HIDE_HOLDERS lets this reader know ("booked", "checked out"). */
  owner: string;
  mine: boolean;
}

export const personName = (p: Person): string => p.displayName ?? p.name;

/**
 * The bars to draw: every VM of each booking (its own range: a VM given at the start instead of
 * a booked one holds it from then), and each checked-out VM from its checkout to its lease's end.
 * A booking cancelled draws nothing (its VMs given at the start are leases, drawn as such).
 */
export function barsOf(reservations: Reservation[], vms: Vm[], me: number): Bar[] {
  const bars: Bar[] = [];
  for (const r of reservations) {
    if (r.state === "cancelled") continue;
    for (const range of r.ranges) {
      bars.push({
        kind: "booking",
        key: `b${r.id}-${range.vm}-${range.from}`,
        vm: range.vm,
        from: Date.parse(range.from),
        to: Date.parse(range.to),
        title: r.label,
        owner: r.person ? personName(r.person) : "booked",
        mine: r.person?.id === me,
      });
    }
  }
  for (const vm of vms) {
    if (vm.state !== "checked_out" || vm.startedAt === null) continue;
    bars.push({
      kind: "lease",
      key: `l${vm.checkoutId ?? vm.name}`,
      vm: vm.name,
      from: Date.parse(vm.startedAt),
      to: vm.endsAt === null ? null : Date.parse(vm.endsAt),
      title: "lease",
      owner: vm.holder ? personName(vm.holder) : "checked out",
      mine: vm.holder?.id === me,
    });
  }
  return bars;
}

/** Where a bar sits in the frame, in % of its width; null when it is outside. */
export function placement(bar: Bar, frame: CalendarWindow): { left: number; width: number } | null {
  const from = Math.max(bar.from, frame.start);
  const to = Math.min(bar.to ?? frame.end, frame.end);
  if (to <= from) return null;
  const span = frame.end - frame.start;
  return { left: ((from - frame.start) / span) * 100, width: ((to - from) / span) * 100 };
}
