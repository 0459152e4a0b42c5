import { isAdmin } from "../../core/people.js";
import { allVms, blockedCleanups, poolSummary, vmsOfPerson } from "../../core/queries.js";
import { queueLengths, queuesOf } from "../../core/waitlist.js";
import { listImages, listInstances, listJobs, myImages as ownImages } from "../../core/provision/queries.js";
import { listReservations, nextBookings } from "../../core/reservations.js";
import { readingOfSlackUser } from "../time-zone.js";
import type { Actor, Core } from "../../core/types.js";
import type { WebClient } from "../slack-client.js";
import type { SlackMessage } from "../views/blocks.js";
import { homeView } from "../views/home.js";

/** Instances, images and failed jobs, only where some pool is provisioned (a static-only installation shows nothing of it). */
async function provisionedOverview(core: Core, viewer: Actor) {
  const [listed, images, failed] = await Promise.all([listInstances(core, viewer), listImages(core, viewer), listJobs(core, viewer, { failed: true, limit: 5 })]);
  const instances = listed.ok ? listed.value : [];
  const all = images.ok ? images.value : [];
  const failedJobs = failed.ok ? failed.value : [];
  return instances.length + all.length + failedJobs.length > 0 ? { instances, images: all, failedJobs } : undefined;
}

/** Renders one person's Home tab from the database as it is now. */
export async function renderHome(core: Core, userId: string, banner?: SlackMessage) {
  const viewer: Actor = { person: { slackUserId: userId }, source: "slack" };
  const admin = await isAdmin(core, viewer);
  const [mine, pools, attention, blocked, queues, held, lengths, reading, myImages, provisioned, bookings, next] = await Promise.all([
    vmsOfPerson(core, viewer.person),
    poolSummary(core.db),
    admin ? allVms(core, viewer, { states: ["quarantined", "maintenance"] }) : Promise.resolve([]),
    admin ? blockedCleanups(core.db) : Promise.resolve([]),
    queuesOf(core, viewer.person),
    admin ? allVms(core, viewer, { states: ["checked_out"] }) : Promise.resolve([]),
    admin ? queueLengths(core) : Promise.resolve([]),
    readingOfSlackUser(core, userId),
    ownImages(core, viewer),
    admin ? provisionedOverview(core, viewer) : Promise.resolve(undefined),
    listReservations(core, viewer, { person: viewer.person }),
    nextBookings(core, viewer),
  ]);
  // Longest holds: the open checkouts that started first.
  const longestHolds = held.filter((v) => v.startedAt !== null).sort((a, b) => (a.startedAt?.getTime() ?? 0) - (b.startedAt?.getTime() ?? 0)).slice(0, 5);
  return homeView({
    isAdmin: admin,
    mine: mine.ok ? mine.value : [],
    pools,
    attention,
    blocked,
    now: reading.now,
    timeZone: reading.timeZone,
    queues: queues.ok ? queues.value : [],
    longestHolds,
    queueLengths: lengths,
    myImages: myImages.ok ? myImages.value : [],
    ...(provisioned ? { provisioned } : {}),
    reservations: bookings.ok ? bookings.value : [],
    nextBookings: next,
    ...(banner ? { banner } : {}),
  });
}

/**
 * Publishes the Home tab as the database is at this moment. Each change to a
 * person's VMs queues another publish, so the tab catches up with the last one.
 */
export async function publishHome(client: WebClient, core: Core, userId: string, banner?: SlackMessage): Promise<void> {
  await client.views.publish({ user_id: userId, view: await renderHome(core, userId, banner) });
}
