/** The parts of an OpenAPI document that `withoutUnusedSchemas` reads. */
interface OpenApiDocument {
  paths?: object;
  components?: { schemas?: object };
}

const SCHEMA_REF = /"#\/components\/schemas\/([^"]+)"/g;

/**
 * The document with only the component schemas its paths reach, directly or through other
 * components. fastify-type-provider-zod writes every registered schema twice (`X` as answered,
 * `XInput` as accepted); a schema only ever answered leaves its `XInput` unused, which Redocly's
 * `no-unused-components` rule reports.
 */
export function withoutUnusedSchemas<D extends OpenApiDocument>(doc: D): D {
  const schemas = doc.components?.schemas as Record<string, unknown> | undefined;
  if (!schemas) return doc;
  const used = new Set<string>();
  const pending = [JSON.stringify(doc.paths ?? {})];
  for (let text = pending.pop(); text !== undefined; text = pending.pop()) {
    for (const [, id] of text.matchAll(SCHEMA_REF)) {
      if (id === undefined || used.has(id) || !(id in schemas)) continue;
      used.add(id);
      pending.push(JSON.stringify(schemas[id]));
    }
  }
  const kept = Object.fromEntries(Object.entries(schemas).filter(([id]) => used.has(id)));
  return { ...doc, components: { ...doc.components, schemas: kept } };
}
