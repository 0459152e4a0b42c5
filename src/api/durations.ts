import { refuse, type Result } from "../core/types.js";
import { formatDuration, parseDuration } from "../duration.js";

/** A duration field in ms (undefined when absent), or an invalid_input refusal naming it. */
export function durationMs(text: string | undefined, field: string, max?: number): Result<number | undefined> {
  if (text === undefined) return { ok: true, value: undefined };
  const ms = parseDuration(text);
  if (ms === null || ms <= 0 || (max !== undefined && ms > max)) {
    return refuse({ code: "invalid_input", field, message: `"${text}" is not a duration of${max ? ` at most ${formatDuration(max)} and` : ""} more than zero, like 90m, 4h or 1d12h` });
  }
  return { ok: true, value: ms };
}
