import type { FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import type { Actor, Result } from "../core/types.js";
import { problem } from "./schemas.js";
import { refusalProblem, type Problem } from "./problems.js";

/** Sends a problem as application/problem+json, past the route's response schema (its shape is `problem`). */
export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type("application/problem+json").serializer(JSON.stringify).send(p);
}

/** The token's person, acting through the API: the same core calls as Slack and the CLI. */
export function actorOf(req: FastifyRequest): Actor {
  if (!req.caller) throw new Error("a /v1 route ran without an authenticated token");
  // The person as the token's statement read them this request: the core need not read them again.
  // A web page session acts as the page ("web" on record); a token as the API.
  return { person: { id: req.caller.person.id, known: req.caller.person }, source: req.caller.tokenId === null ? "web" : "api" };
}

/** A core result: the value mapped and sent with `status`, or the refusal as a problem. */
export function answer<T, R>(req: FastifyRequest, reply: FastifyReply, result: Result<T>, map: (value: T) => R, status = 200): FastifyReply {
  if (!result.ok) return sendProblem(reply, refusalProblem(result.refusal, req.url.split("?")[0]));
  return reply.code(status).send(map(result.value));
}

/** A success response: what it means (the document's description) and its JSON body. */
export function json<T extends z.ZodType>(description: string, schema: T) {
  return { description, content: { "application/json": { schema } } };
}

type Described = ReturnType<typeof json>;

/**
 * A problem status, declared once per route: what it means, and where its codes are. The codes
 * by status are listed once, in the Problem schema (a route's own subset is not known here).
 */
function problemResponse(status: number) {
  const description = `${STATUS_REASONS[status] ?? "Problem"}: a Problem; its \`code\` says why (the Problem schema lists the codes by status)`;
  return { description, content: { "application/problem+json": { schema: problem } } };
}

const STATUS_REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

/**
 * The responses of a route: its successes (each described, with `json`), and the problems it may
 * answer (400, 401, 429 always), declared as application/problem+json as `sendProblem` sends them.
 */
export function responses<S extends Record<number, Described>, const C extends number[] = []>(success: S, problems?: C) {
  const all: Record<number, ReturnType<typeof problemResponse>> = {};
  for (const status of [400, 401, 429, ...(problems ?? [])]) all[status] = problemResponse(status);
  return { ...success, ...all } as S & { [K in C[number] | 400 | 401 | 429]: ReturnType<typeof problemResponse> };
}

export const iso = (d: Date | string | null | undefined): string | null => (d === null || d === undefined ? null : new Date(d).toISOString());
export const isoNow = (d: Date | string): string => new Date(d).toISOString();
