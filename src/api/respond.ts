import type { FastifyReply, FastifyRequest } from "fastify";
import type { Actor, Result } from "../core/types.js";
import { problem } from "./schemas.js";
import { refusalProblem, type Problem } from "./problems.js";

/** Sends a problem as application/problem+json, past the route's response schema (its shape is `problem`). */
export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type("application/problem+json").serializer(JSON.stringify).send(p);
}

/** The token's person, acting through the API: the same core calls as Slack and the CLI. */
export function actorOf(req: FastifyRequest): Actor {
  if (!req.holder) throw new Error("a /v1 route ran without an authenticated token");
  return { person: { id: req.holder.person.id }, source: "api" };
}

/** A core result: the value mapped and sent with `status`, or the refusal as a problem. */
export function answer<T, R>(req: FastifyRequest, reply: FastifyReply, result: Result<T>, map: (value: T) => R, status = 200): FastifyReply {
  if (!result.ok) return sendProblem(reply, refusalProblem(result.refusal, req.url.split("?")[0]));
  return reply.code(status).send(map(result.value));
}

/** The response schemas of a route: its success, and the problems it may answer (400, 401, 429 always). */
export function responses<S extends Record<number, unknown>, const C extends number[] = []>(success: S, problems?: C) {
  const all: Record<number, typeof problem> = {};
  for (const status of [400, 401, 429, ...(problems ?? [])]) all[status] = problem;
  return { ...success, ...all } as S & { [K in C[number] | 400 | 401 | 429]: typeof problem };
}

export const iso = (d: Date | string | null | undefined): string | null => (d === null || d === undefined ? null : new Date(d).toISOString());
export const isoNow = (d: Date | string): string => new Date(d).toISOString();
