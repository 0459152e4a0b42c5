import type { Notice as ParsedNotice } from "../../core/notices.js";
import { adminDigestSteps } from "./admin-digest.js";
import { checkinForcedSteps } from "./checkin-forced.js";
import { leaseChangedSteps } from "./lease-changed.js";
import { leaseExpiredSteps } from "./lease-expired.js";
import { leaseReminderSteps } from "./lease-reminder.js";
import { offerEndedSteps } from "./offer-ended.js";
import { reservationCancelledSteps, reservationReminderSteps, reservationShortSteps } from "./reservations.js";
import { vmOfferedSteps } from "./vm-offered.js";
import { cleanupBlockedSteps } from "./cleanup-blocked.js";
import { poolExhaustedSteps } from "./pool-exhausted.js";
import type { DeliveryContext, Step } from "./step.js";
import { vmCheckedInSteps } from "./vm-checked-in.js";
import { vmCheckedOutSteps } from "./vm-checked-out.js";
import { vmQuarantinedSteps } from "./vm-quarantined.js";
import { vmStateChangedSteps } from "./vm-state-changed.js";
import { provisionFailedSteps, unknownInstancesSteps } from "./provision.js";

/** How each kind of notice reaches Slack. The switch is exhaustive: a new kind in the core fails to compile here. */
export function stepsFor(notice: ParsedNotice, ctx: DeliveryContext): Step[] {
  switch (notice.kind) {
    case "vm_checked_out":
      return vmCheckedOutSteps(notice, ctx);
    case "vm_checked_in":
      return vmCheckedInSteps(notice, ctx);
    case "checkin_forced":
      return checkinForcedSteps(notice, ctx);
    case "pool_exhausted":
      return poolExhaustedSteps(notice, ctx);
    case "vm_quarantined":
      return vmQuarantinedSteps(notice, ctx);
    case "vm_state_changed":
      return vmStateChangedSteps(notice, ctx);
    case "cleanup_blocked":
      return cleanupBlockedSteps(notice, ctx);
    case "lease_reminder":
      return leaseReminderSteps(notice, ctx);
    case "lease_expired":
      return leaseExpiredSteps(notice, ctx);
    case "lease_changed":
      return leaseChangedSteps(notice, ctx);
    case "vm_offered":
      return vmOfferedSteps(notice, ctx);
    case "offer_ended":
      return offerEndedSteps(notice, ctx);
    case "provision_failed":
      return provisionFailedSteps(notice, ctx);
    case "unknown_instances":
      return unknownInstancesSteps(notice, ctx);
    case "reservation_reminder":
      return reservationReminderSteps(notice, ctx);
    case "reservation_short":
      return reservationShortSteps(notice, ctx);
    case "reservation_cancelled":
      return reservationCancelledSteps(notice, ctx);
    case "admin_digest":
      return adminDigestSteps(notice, ctx);
  }
}

/** Orders deliveries: notices about the same VM (or pool, or key file) go one after another, others side by side. */
export function orderKey(notice: ParsedNotice): string {
  switch (notice.kind) {
    case "vm_checked_out":
      return `vm:${notice.vm}`;
    case "pool_exhausted":
      return `pool:${notice.pool}`;
    case "cleanup_blocked":
      return `key:${notice.keyFile}`;
    case "provision_failed":
      return `job:${notice.jobId}`;
    case "unknown_instances":
      return `pool:${notice.pool}`;
    case "reservation_reminder":
    case "reservation_short":
    case "reservation_cancelled":
      return `reservation:${notice.reservationId}`;
    case "admin_digest":
      return `digest:${notice.period}`;
    default:
      return `vm:${notice.vm}`;
  }
}

/**
 * The kinds of notice with a step that posts to the admin channel. Stale ones
 * are claimed together, apart from the rest, to be told in one summary (see
 * docs/slack.md, "Old notices"); test/slack/notice-max-age.test.ts checks this
 * list against the steps.
 */
export const ALERT_KINDS: readonly ParsedNotice["kind"][] = ["checkin_forced", "cleanup_blocked", "pool_exhausted", "vm_quarantined", "provision_failed", "unknown_instances", "reservation_short", "admin_digest"];
