import type { types } from "@slack/bolt";
import type { ModalView } from "../deps.js";
import { context } from "./blocks.js";
import { escape, truncate } from "./format.js";

/** The booking form's callback id, and the block (and action) id of each field. */
export const RESERVE_FORM = "reserve_form";
export const FIELD = { pool: "pool", count: "count", from: "from", to: "to", label: "label", note: "note" } as const;
export type FormField = (typeof FIELD)[keyof typeof FIELD];

const text = (t: string): types.PlainTextElement => ({ type: "plain_text", text: truncate(t, 150) });

/**
 * The booking form (`/vm reserve` alone, or Book VMs on the Home tab): pool,
 * count, start and end (date-time pickers, in the person's own Slack zone),
 * label and note. Checked when submitted; mistakes come back on their fields.
 */
export function reserveModal(pools: string[], opts: { pool?: string | undefined; timeZone: string | null }): ModalView {
  const initial = pools.includes(opts.pool ?? "") ? opts.pool : pools[0];
  const options = pools.slice(0, 100).map((p) => ({ text: text(p), value: p }));
  return {
    type: "modal",
    callback_id: RESERVE_FORM,
    title: text("Book VMs"),
    submit: text("Book"),
    close: text("Cancel"),
    blocks: [
      {
        type: "input",
        block_id: FIELD.pool,
        label: text("Pool"),
        element: { type: "static_select", action_id: FIELD.pool, options, ...(initial ? { initial_option: { text: text(initial), value: initial } } : {}) },
      },
      {
        type: "input",
        block_id: FIELD.count,
        label: text("How many VMs"),
        element: { type: "number_input", action_id: FIELD.count, is_decimal_allowed: false, min_value: "1", max_value: "1000", initial_value: "1" },
      },
      { type: "input", block_id: FIELD.from, label: text("From"), element: { type: "datetimepicker", action_id: FIELD.from } },
      { type: "input", block_id: FIELD.to, label: text("To"), element: { type: "datetimepicker", action_id: FIELD.to } },
      {
        type: "input",
        block_id: FIELD.label,
        label: text("Label"),
        hint: text("Unique among active bookings: lowercase letters, digits, - and . (like release-4.2)"),
        element: { type: "plain_text_input", action_id: FIELD.label, max_length: 63, placeholder: text("release-4.2") },
      },
      {
        type: "input",
        block_id: FIELD.note,
        optional: true,
        label: text("Note"),
        element: { type: "plain_text_input", action_id: FIELD.note, max_length: 500, placeholder: text("What it is for") },
      },
      context(`Times are in your Slack time zone${opts.timeZone ? ` (${escape(opts.timeZone)})` : ""}. At the start the VMs are yours until the end, with their IPs by DM.`),
    ],
  };
}

/** What a submitted form holds, as Slack sends it in `view.state.values`. */
export interface FormValues {
  pool: string | undefined;
  count: string | undefined;
  from: number | undefined;
  to: number | undefined;
  label: string | undefined;
  note: string | undefined;
}

type StateValues = Record<string, Record<string, { selected_option?: { value?: unknown } | null; value?: unknown; selected_date_time?: unknown }>>;

/** Reads the form's fields, whatever shape arrived (a field missing or odd reads as not filled in). */
export function formValues(values: unknown): FormValues {
  const v = (typeof values === "object" && values !== null ? values : {}) as StateValues;
  const field = (id: FormField) => v[id]?.[id];
  const str = (x: unknown) => (typeof x === "string" && x.trim() !== "" ? x.trim() : undefined);
  const num = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? x : undefined);
  return {
    pool: str(field(FIELD.pool)?.selected_option?.value),
    count: str(field(FIELD.count)?.value),
    from: num(field(FIELD.from)?.selected_date_time),
    to: num(field(FIELD.to)?.selected_date_time),
    label: str(field(FIELD.label)?.value),
    note: str(field(FIELD.note)?.value),
  };
}
