import { formatDuration } from "../duration.js";
import type { Refusal } from "../core/types.js";

/**
 * The one mapping from a core refusal to an HTTP status, with a short title.
 * `satisfies Record<Refusal["code"], …>`: a refusal code added to the core
 * without a status here does not compile. docs/api.md and the OpenAPI
 * document (the `Problem` schema's description) list it.
 */
export const REFUSAL_STATUS = {
  invalid_input: { status: 422, title: "A value is not acceptable" },
  unknown_pool: { status: 404, title: "No such pool" },
  no_vm_free: { status: 409, title: "No VM is free in the pool" },
  quota_reached: { status: 409, title: "The person holds as many VMs as the pool's quota allows" },
  unknown_vm: { status: 404, title: "No such VM" },
  not_checked_out: { status: 409, title: "The VM is not checked out" },
  not_holder: { status: 403, title: "Someone else holds the VM" },
  checkout_ended: { status: 410, title: "That checkout has ended" },
  not_admin: { status: 403, title: "Only admins may do this" },
  wrong_state: { status: 409, title: "The VM is not in a state that allows this" },
  name_taken: { status: 409, title: "The name is taken" },
  unknown_person: { status: 404, title: "No such person" },
  ambiguous_person: { status: 409, title: "The name matches several people" },
  person_exists: { status: 409, title: "The person exists already" },
  unknown_checkout: { status: 404, title: "No such checkout" },
  lease_too_long: { status: 422, title: "The lease is longer than the pool allows" },
  lease_not_extended: { status: 409, title: "The lease cannot be extended" },
  not_waiting: { status: 409, title: "Not in the pool's queue" },
  not_your_offer: { status: 403, title: "The offer is not yours" },
  offer_over: { status: 410, title: "The offer is over" },
  unknown_token: { status: 404, title: "No such token" },
  too_many_tokens: { status: 409, title: "The person holds as many live tokens as MAX_TOKENS_PER_PERSON allows" },
  too_many_waits: { status: 429, title: "The person has as many requests waiting for a VM as API_WAITS_PER_PERSON allows" },
  pool_full: { status: 409, title: "The provisioned pool is at its size limit" },
  no_image: { status: 404, title: "No saved image to restore" },
  not_provisioned: { status: 409, title: "The pool's VMs are fixed machines" },
  unknown_job: { status: 404, title: "No such provider job" },
  job_not_failed: { status: 409, title: "Only a failed job can be retried or abandoned" },
  unknown_image: { status: 404, title: "No such image" },
  image_busy: { status: 409, title: "The image is being saved or deleted" },
  not_enough_free: { status: 409, title: "Not enough VMs of the pool are free for that range" },
  label_taken: { status: 409, title: "Another booking has this label" },
  unknown_reservation: { status: 404, title: "No such booking" },
  not_your_reservation: { status: 403, title: "Someone else's booking" },
  vm_booked: { status: 409, title: "The VM is booked" },
  booking_too_far: { status: 422, title: "The booking starts later than the pool allows" },
  booking_too_long: { status: 422, title: "The booking is longer than the pool allows" },
} as const satisfies Record<Refusal["code"], { status: number; title: string }>;

/** Problems the HTTP layer itself answers (not the core's decisions). */
export const HTTP_PROBLEMS = {
  bad_request: { status: 400, title: "The request does not match the API's schema" },
  unauthorized: { status: 401, title: "A valid API token is needed" },
  csrf_failed: { status: 403, title: "The web page's CSRF token is missing or wrong" },
  not_found: { status: 404, title: "No such endpoint" },
  idempotency_in_progress: { status: 409, title: "A request with this Idempotency-Key is still running" },
  idempotency_answer_withheld: { status: 409, title: "The first answer to this Idempotency-Key held a secret and is not replayed" },
  payload_too_large: { status: 413, title: "The request body is too large" },
  unsupported_media_type: { status: 415, title: "Send JSON (Content-Type: application/json)" },
  idempotency_key_reused: { status: 422, title: "This Idempotency-Key was used for another request" },
  rate_limited: { status: 429, title: "Too many requests for this token or person" },
  shutting_down: { status: 503, title: "The service is stopping" },
  provision_failed: { status: 502, title: "The provider failed to create the VM" },
  internal: { status: 500, title: "vmres failed unexpectedly" },
} as const;

export type HttpProblemCode = keyof typeof HTTP_PROBLEMS;

/** An RFC 9457 problem document, with the refusal's or problem's code and facts. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [fact: string]: unknown;
}

export const PROBLEM_TYPE_BASE = "https://vmres.dev/problems/";

/** A core refusal as a problem: every fact the refusal carries is kept (dates as ISO text). */
export function refusalProblem(refusal: Refusal, instance?: string): Problem {
  const { status, title } = REFUSAL_STATUS[refusal.code];
  const facts = JSON.parse(JSON.stringify(refusal)) as Record<string, unknown>;
  return { type: PROBLEM_TYPE_BASE + refusal.code, title, status, detail: refusalDetail(refusal), ...facts, code: refusal.code, ...(instance ? { instance } : {}) };
}

export function httpProblem(code: HttpProblemCode, detail: string, facts: Record<string, unknown> = {}): Problem {
  const { status, title } = HTTP_PROBLEMS[code];
  return { type: PROBLEM_TYPE_BASE + code, title, status, detail, ...facts, code };
}

/** One sentence saying what happened and what would be right; the facts travel as fields too. */
function refusalDetail(r: Refusal): string {
  switch (r.code) {
    case "invalid_input":
      return `${r.field}: ${r.message}`;
    case "unknown_pool":
      return `there is no pool "${r.pool}"; known pools: ${r.known.join(", ") || "none"}`;
    case "no_vm_free":
      return `no VM is free in pool "${r.pool}"${r.waiting > 0 ? ` (${r.waiting} waiting in its queue get free VMs first)` : ""}; retry later, or send {"wait": "5m"}`;
    case "quota_reached":
      return `already holding ${r.held.join(", ")} in pool "${r.pool}" (quota ${r.quota}); check one in first`;
    case "unknown_vm":
      return `there is no VM "${r.vm}"`;
    case "not_checked_out":
      return `${r.vm} is not checked out (it is ${r.state})`;
    case "not_holder":
      return r.holder ? `${r.vm} is held by ${r.holder.name}; an admin may force the check-in with ?force=true` : `${r.vm} is held by someone else`;
    case "checkout_ended": {
      const ended = `the checkout named has ended${r.endedAt ? ` at ${new Date(r.endedAt).toISOString()}` : ""}${r.endedBy ? ` by ${r.endedBy.name}` : ""}${r.endReason ? ` (${r.endReason.replace("_", " ")})` : ""}`;
      if (r.yoursAgain) return `${ended}; you hold ${r.vm} again under a newer checkout`;
      return r.state === "checked_out" ? `${ended}; ${r.vm} was checked out again since` : r.state === null ? ended : `${ended}; ${r.vm} is ${r.state.replace("_", " ")} now`;
    }
    case "not_admin":
      return `only admins may ${r.operation}`;
    case "wrong_state":
      return `${r.vm} is ${r.state}; this needs a VM that is ${r.allowed.join(" or ")}`;
    case "name_taken":
      return `a VM named "${r.vm}" exists already`;
    case "unknown_person":
      return `nobody called "${r.who}" is known`;
    case "ambiguous_person":
      return `"${r.who}" could be any of ${r.matches.join(", ")}: name one exactly`;
    case "person_exists":
      return `"${r.who}" is known already`;
    case "unknown_checkout":
      return `there is no checkout ${r.id}`;
    case "lease_too_long":
      return `longer than pool "${r.pool}" allows (at most ${formatDuration(r.maxMs)} from the checkout's start)`;
    case "lease_not_extended":
      return r.endsAt === null ? `${r.vm} is pinned: it has no end to extend` : `that would not move the end of ${r.vm} later`;
    case "not_waiting":
      return r.pool === null ? "not in any queue" : `not in the queue of pool "${r.pool}"`;
    case "not_your_offer":
      return `offer ${r.id} is not yours`;
    case "offer_over":
      return `that offer in pool "${r.pool}" is over (${r.state})`;
    case "unknown_token":
      return `there is no token ${r.id} of yours`;
    case "too_many_tokens":
      return `${r.person} holds ${r.limit} live tokens, the most one person may (MAX_TOKENS_PER_PERSON): revoke one (DELETE /v1/tokens/{id}; GET /v1/tokens lists them) first`;
    case "too_many_waits":
      return `${r.person} has ${r.limit} requests waiting for a VM already, the most one person may (API_WAITS_PER_PERSON); nothing was done: retry once one of them has ended, or without "wait"`;
    case "pool_full":
      return `pool "${r.pool}" is at its size limit: ${r.live} of at most ${r.maxSize} instances exist or are being created; retry once one is checked in, or send {"wait": "5m"}`;
    case "no_image":
      return r.image === null ? `no saved image of yours in pool "${r.pool}": check in with ?keep=true to save one` : `no image "${r.image}" of yours in pool "${r.pool}"`;
    case "not_provisioned":
      return `pool "${r.pool}" has fixed machines: ${r.operation === "keep" ? "keep (save an image)" : "restore"} does not apply`;
    case "unknown_job":
      return `there is no provider job ${r.id}`;
    case "job_not_failed":
      return `job ${r.id} is ${r.state}: only a failed job can be retried or abandoned`;
    case "unknown_image":
      return `there is no image "${r.image}" of yours`;
    case "image_busy":
      return `image "${r.image}" is ${r.state}; only a ready or dirty image can be deleted`;
    case "not_enough_free":
      return `only ${r.free} of the ${r.count} VMs asked for are free in pool "${r.pool}" from ${new Date(r.from).toISOString()} to ${new Date(r.to).toISOString()}${r.nearest ? `; the nearest range that fits: ${new Date(r.nearest.from).toISOString()} to ${new Date(r.nearest.to).toISOString()}` : ""}`;
    case "label_taken":
      return `the label "${r.label}" is taken by another booking: choose another`;
    case "unknown_reservation":
      return `no booking is labelled "${r.label}"`;
    case "not_your_reservation":
      return `the booking "${r.label}" is someone else's: only they (or an admin) may cancel it`;
    case "vm_booked":
      return `${r.vm} is booked from ${new Date(r.from).toISOString()}${r.label ? ` ("${r.label}")` : ""}: its lease cannot run into the booking`;
    case "booking_too_far":
      return `pool "${r.pool}" takes bookings starting at most ${formatDuration(r.maxAheadMs)} ahead (MAX_BOOKING_AHEAD, or the pool's own): start by ${new Date(r.latestStart).toISOString()}`;
    case "booking_too_long":
      return `pool "${r.pool}" takes bookings of at most ${formatDuration(r.maxMs)} (MAX_BOOKING_LENGTH, or the pool's own): end by ${new Date(r.latestEnd).toISOString()}`;
  }
}
