import { z } from "zod";
import type { NoticeKind } from "../../core/notices.js";

/**
 * The notices the core queues (src/core/notices.ts), as they come back out of
 * the outbox's JSON. Parsed rather than cast: a row written by another version
 * of vmres must fail with a reason, not deliver nonsense. Times stay strings
 * as PostgreSQL wrote them, so nothing is lost to JavaScript's milliseconds.
 */
const stateCounts = z.object({
  available: z.number(),
  checked_out: z.number(),
  cleaning: z.number(),
  quarantined: z.number(),
  maintenance: z.number(),
  retired: z.number(),
});

export const noticeSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("vm_checked_out"),
    user: z.string(),
    vm: z.object({ name: z.string(), ip: z.string(), sshUser: z.string(), sshPort: z.number(), pool: z.string(), checkedOutAt: z.string() }),
  }),
  z.object({
    kind: z.literal("vm_checked_in"),
    user: z.string(),
    vm: z.string(),
    // Absent in notices queued before the core named the checkout; then every open DM of that VM and user is updated.
    checkedOutAt: z.string().optional(),
    forcedBy: z.string().nullable(),
    nextState: z.enum(["cleaning", "retired"]),
  }),
  z.object({ kind: z.literal("checkin_forced"), vm: z.string(), previousHolder: z.string(), by: z.string() }),
  z.object({ kind: z.literal("pool_exhausted"), pool: z.string(), counts: stateCounts }),
  z.object({
    kind: z.literal("vm_quarantined"),
    vm: z.string(),
    pool: z.string(),
    reason: z.string(),
    lastError: z.string().nullable(),
    attempts: z.number(),
  }),
  z.object({ kind: z.literal("vm_state_changed"), vm: z.string(), state: z.string(), by: z.string() }),
  z.object({
    kind: z.literal("cleanup_blocked"),
    keyFile: z.string(),
    error: z.string(),
    vms: z.array(z.string()),
    waiting: z.number(),
    instance: z.string(),
  }),
]);

export type ParsedNotice = z.infer<typeof noticeSchema>;

/** The notice of a row (kind column plus JSON payload), or why it cannot be read. */
export function parseNotice(kind: string, payload: unknown): { notice: ParsedNotice } | { problem: string } {
  const parsed = noticeSchema.safeParse({ ...(typeof payload === "object" && payload !== null ? payload : {}), kind });
  if (parsed.success) return { notice: parsed.data };
  return { problem: `cannot read a "${kind}" notice: ${parsed.error.issues.map((i) => `${i.path.join(".") || "kind"}: ${i.message}`).join("; ")}` };
}

/** Fails to compile when the core gains a notice kind this adapter cannot read. */
type UnreadKinds = Exclude<NoticeKind, ParsedNotice["kind"]>;
export const EVERY_KIND_READ: UnreadKinds extends never ? true : never = true;
