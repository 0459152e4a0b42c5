import { describe, expect, it } from "vitest";
import * as z from "zod";
import { noticeSchema } from "../../src/core/notices.js";

describe("the notices' shapes", () => {
  it("name a VM the same way in every kind: by its name, a string", () => {
    const shapes = noticeSchema.options.map((o) => o.shape as Record<string, z.ZodType> & { kind: z.ZodLiteral<string> });
    const kinds = shapes.filter((shape) => "vm" in shape);
    expect(kinds.length).toBeGreaterThan(8);
    const other = kinds.filter((shape) => !(shape["vm"] instanceof z.ZodString)).map((shape) => shape.kind.value);
    expect(other).toEqual([]);
  });
});
