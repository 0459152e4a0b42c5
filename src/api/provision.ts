import { z } from "zod";
import { abandonJob, deleteImage, retryJob } from "../core/provision/admin.js";
import { listImages, listInstances, listJobs, type ImageSummary, type InstanceSummary, type JobSummary } from "../core/provision/queries.js";
import { actorOf, answer, iso, isoNow, json, responses } from "./respond.js";
import type { ApiDeps, V1 } from "./types.js";
import * as s from "./schemas.js";

// Provisioned pools' admin views (docs/provisioned-pools.md): who may see and do what is the core's.

const instanceBody = (i: InstanceSummary): z.infer<typeof s.instance> => ({ ...i, vmState: i.vmState as z.infer<typeof s.vmState> | null, createdAt: isoNow(i.createdAt) });
const imageBody = (i: ImageSummary): z.infer<typeof s.image> => ({ ...i, createdAt: isoNow(i.createdAt), dirtyAt: iso(i.dirtyAt) });
const jobBody = (j: JobSummary): z.infer<typeof s.providerJob> => ({ ...j, nextAt: isoNow(j.nextAt), createdAt: isoNow(j.createdAt), finishedAt: iso(j.finishedAt) });

const imageNameParam = z.strictObject({ name: z.string().max(200) });

export function provisionRoutes(v1: V1, { core }: ApiDeps): void {
  v1.get(
    "/instances",
    {
      schema: {
        operationId: "listInstances",
        summary: "Admin: instances of provisioned pools, newest first",
        tags: ["provisioned", "admin"],
        querystring: z.strictObject({ all: s.flagParam.optional().describe("true: also those deleted or failed") }),
        response: responses({ 200: json("the instances, newest first", z.array(s.instance)) }, [403]),
      },
    },
    async (req, reply) => answer(req, reply, await listInstances(core, actorOf(req), { all: req.query.all ?? false }), (list) => list.map(instanceBody)),
  );

  v1.get(
    "/images",
    {
      schema: {
        operationId: "listImages",
        summary: "Saved images, newest first: one's own, or everyone's for admins",
        tags: ["provisioned"],
        querystring: z.strictObject({ user: z.string().max(200).optional().describe("only this person's (name or Slack ID); `me` for yourself") }),
        response: responses({ 200: json("the images, newest first", z.array(s.image)) }, [403, 404]),
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      const user = req.query.user === "me" ? req.caller!.person.name : req.query.user;
      return answer(req, reply, await listImages(core, actor, { user }), (list) => list.map(imageBody));
    },
  );

  v1.delete(
    "/images/:name",
    {
      schema: {
        operationId: "deleteImage",
        summary: "Delete a saved image (one's own; admins: any)",
        tags: ["provisioned"],
        params: imageNameParam,
        response: responses({ 200: json("the image, now being deleted", s.imageDeleted) }, [404, 409, 422]),
      },
    },
    async (req, reply) => answer(req, reply, await deleteImage(core, actorOf(req), req.params.name), (d) => d),
  );

  v1.get(
    "/provider-jobs",
    {
      schema: {
        operationId: "listProviderJobs",
        summary: "Admin: provider jobs, newest first",
        tags: ["provisioned", "admin"],
        querystring: z.strictObject({
          failed: s.flagParam.optional().describe("true: only failed jobs (out of attempts), which an admin retries or abandons"),
          limit: z.coerce.number().int().min(1).max(1000).optional(),
        }),
        response: responses({ 200: json("the jobs, newest first", z.array(s.providerJob)) }, [403]),
      },
    },
    async (req, reply) => answer(req, reply, await listJobs(core, actorOf(req), { failed: req.query.failed ?? false, limit: req.query.limit }), (list) => list.map(jobBody)),
  );

  v1.post(
    "/provider-jobs/:id/retry",
    {
      schema: {
        operationId: "retryProviderJob",
        summary: "Admin: run a failed provider job again, attempts reset",
        tags: ["provisioned", "admin"],
        params: s.idParam,
        response: responses({ 200: json("the job, queued again", s.providerJobAction) }, [403, 404, 409]),
      },
    },
    async (req, reply) => answer(req, reply, await retryJob(core, actorOf(req), req.params.id), (j) => j),
  );

  v1.post(
    "/provider-jobs/:id/abandon",
    {
      schema: {
        operationId: "abandonProviderJob",
        summary: "Admin: give up a failed provider job (a failed save: the instance is deleted without its image)",
        tags: ["provisioned", "admin"],
        params: s.idParam,
        response: responses({ 200: json("the job, abandoned", s.providerJobAction) }, [403, 404, 409]),
      },
    },
    async (req, reply) => answer(req, reply, await abandonJob(core, actorOf(req), req.params.id), (j) => j),
  );
}
