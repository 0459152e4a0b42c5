import { z } from "zod";
import { addVm, drainVm, removeVm, repairVm, retryCleanup } from "../core/admin.js";
import { cleanupDone } from "../core/cleanup/cleanup-done.js";
import { allVms, findVm, vmHistory } from "../core/queries.js";
import { checkVmFields, updateVmFields } from "../core/update-vm.js";
import { refuse, type VmSummary } from "../core/types.js";
import { actorOf, answer, iso, isoNow, json, responses } from "./respond.js";
import type { ApiDeps, V1 } from "./types.js";
import * as s from "./schemas.js";

/** The line to paste into a terminal to reach a VM. */
export const sshLine = (vm: { sshUser: string; ip: string; sshPort: number }): string => `ssh ${vm.sshUser}@${vm.ip} -p ${vm.sshPort}`;

export function vmBody(v: VmSummary): z.infer<typeof s.vm> {
  return {
    ...v,
    ssh: sshLine(v),
    startedAt: iso(v.startedAt),
    // Deprecated (one release): scripts written against the old name read the same value.
    checkedOutAt: iso(v.startedAt),
    endsAt: iso(v.endsAt),
    heldFor: v.heldFor ? { person: v.heldFor.person, until: isoNow(v.heldFor.until) } : null,
    stateChangedAt: isoNow(v.stateChangedAt),
  };
}

export function vmRoutes(v1: V1, { core }: ApiDeps): void {
  v1.get(
    "/vms",
    {
      schema: {
        operationId: "listVms",
        summary: "VMs, by pool and name",
        tags: ["vms"],
        querystring: z.strictObject({ pool: z.string().max(63).optional(), state: s.vmState.optional(), tag: z.string().max(63).optional() }),
        response: responses({ 200: json("the VMs", z.array(s.vm)) }),
      },
    },
    async (req) => {
      const { pool, state, tag } = req.query;
      const list = await allVms(core, actorOf(req), state ? { states: [state] } : {});
      return list.filter((v) => (pool === undefined || v.pool === pool) && (tag === undefined || v.tags.includes(tag))).map(vmBody);
    },
  );

  v1.get(
    "/vms/:name",
    { schema: { operationId: "getVm", summary: "One VM", tags: ["vms"], params: s.nameParam, response: responses({ 200: json("the VM", s.vm) }, [404]) } },
    async (req, reply) => {
      const found = await findVm(core, actorOf(req), req.params.name);
      return answer(req, reply, found ? { ok: true, value: found } : refuse({ code: "unknown_vm", vm: req.params.name }), vmBody);
    },
  );

  v1.get(
    "/vms/:name/events",
    {
      schema: {
        operationId: "vmEvents",
        summary: "A VM's history, newest first",
        tags: ["vms"],
        params: s.nameParam,
        querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).optional() }),
        response: responses({ 200: json("the VM's history, newest first", z.array(s.vmEvent)) }, [403, 404, 422]),
      },
    },
    async (req, reply) =>
      answer(req, reply, await vmHistory(core, actorOf(req), req.params.name, req.query.limit ?? 50), (list) => list.map((e) => ({ ...e, at: isoNow(e.at) }))),
  );

  v1.post(
    "/vms",
    { schema: { operationId: "addVm", summary: "Admin: add a VM (its pool is created if new)", tags: ["vms", "admin"], body: s.newVm, response: responses({ 201: json("the VM added", s.vm) }, [403, 409, 422]) } },
    async (req, reply) => {
      const actor = actorOf(req);
      const added = await addVm(core, actor, req.body);
      if (!added.ok) return answer(req, reply, added, () => null);
      const vm = await findVm(core, actor, added.value.vm);
      return answer(req, reply, vm ? { ok: true, value: vm } : refuse({ code: "unknown_vm", vm: added.value.vm }), vmBody, 201);
    },
  );

  v1.patch(
    "/vms/:name",
    {
      schema: {
        operationId: "changeVm",
        summary: "Admin: drain (state maintenance) or repair (state available) a VM, and/or change its fields (ip, sshUser, sshPort, hostKeyFingerprint, tags)",
        tags: ["vms", "admin"],
        params: s.nameParam,
        body: s.vmChange,
        response: responses({ 200: json("what changed, and when it applies", s.vmChanged) }, [403, 404, 409, 422]),
      },
    },
    async (req, reply) => {
      const { state, ...fields } = req.body;
      const actor = actorOf(req);
      const hasFields = Object.values(fields).some((v) => v !== undefined);
      if (state === undefined && !hasFields) {
        return answer(req, reply, refuse({ code: "invalid_input", field: "body", message: "say what to change: state, ip, sshUser, sshPort, hostKeyFingerprint or tags" }), () => null);
      }
      // The values are checked before anything changes; then the state (its refusals change nothing), then the fields.
      const bad = checkVmFields(fields);
      if (bad) return answer(req, reply, refuse(bad), () => null);
      const moved = state === undefined ? null : await (state === "maintenance" ? drainVm : repairVm)(core, actor, req.params.name);
      if (moved && !moved.ok) return answer(req, reply, moved, () => null);
      const changed = hasFields ? await updateVmFields(core, actor, req.params.name, fields) : null;
      if (changed && !changed.ok) return answer(req, reply, changed, () => null);
      return { vm: req.params.name, transition: moved ? { from: moved.value.from, to: moved.value.to } : null, fields: changed ? changed.value.applied : null };
    },
  );

  v1.delete(
    "/vms/:name",
    {
      schema: {
        operationId: "removeVm",
        summary: "Admin: retire a VM (now if idle; at check-in or after its cleanup if busy)",
        tags: ["vms", "admin"],
        params: s.nameParam,
        response: responses({ 200: json("retired now, or when the VM is next idle", s.vmRemoved) }, [403, 404, 422]),
      },
    },
    async (req, reply) => answer(req, reply, await removeVm(core, actorOf(req), req.params.name), (r) => r),
  );

  v1.post(
    "/vms/:name/cleanup",
    {
      schema: {
        operationId: "retryCleanup",
        summary: "Admin: clean a quarantined VM again",
        tags: ["vms", "admin"],
        params: s.nameParam,
        response: responses({ 200: json("the VM's state change", s.vmTransition) }, [403, 404, 409, 422]),
      },
    },
    async (req, reply) => answer(req, reply, await retryCleanup(core, actorOf(req), req.params.name), (t) => t),
  );

  v1.post(
    "/vms/:name/cleanup-done",
    {
      schema: {
        operationId: "cleanupDone",
        summary: "Admin: end a VM's cleanup by hand (it cannot run, e.g. the pool's SSH key is unusable), on record with the reason",
        tags: ["vms", "admin"],
        params: s.nameParam,
        body: s.cleanupDoneRequest,
        response: responses({ 200: json("the VM is back (or retired, if it was removed meanwhile)", s.cleanupDone) }, [403, 404, 409, 422]),
      },
    },
    async (req, reply) => answer(req, reply, await cleanupDone(core, actorOf(req), req.params.name, req.body.reason), (d) => d),
  );
}
