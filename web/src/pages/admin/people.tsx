import { useState } from "preact/hooks";
import type { components } from "../../../../src/client/index.js";
import { usePage } from "../../session.js";
import { ListingTable, Section, useListing } from "../../ui.js";
import { ConfirmButton, OutcomeLine, useActions, useWhen } from "./shared.js";
import type { SectionProps } from "./vms.js";

type PersonEntry = components["schemas"]["PersonEntry"];
type Token = components["schemas"]["Token"];

/** Everyone vmres knows; add a person or a service; make an admin or not. */
export function People({ version, refresh }: SectionProps) {
  const { api } = usePage();
  const { outcome, run } = useActions();
  const [form, setForm] = useState({ name: "", slackId: "", kind: "person" as "person" | "service", admin: false });
  const people = useListing(() => api.GET("/v1/people"), version);
  const setAdmin = (p: PersonEntry, admin: boolean) =>
    run(
      api.PATCH("/v1/people/{name}", { params: { path: { name: p.name } }, body: { admin } }),
      (r) => (r.changed ? `${r.person.name} is ${r.admin ? "an admin now" : "no longer an admin"}.` : `${r.person.name} was so already.`),
      refresh,
    );
  const add = async () => {
    const body = { name: form.name.trim(), kind: form.kind, admin: form.admin, ...(form.slackId.trim() ? { slackId: form.slackId.trim() } : {}) };
    await run(api.POST("/v1/people", { body }), (p) => `${p.name} is added.`, () => {
      setForm({ name: "", slackId: "", kind: "person", admin: false });
      refresh();
    });
  };
  return (
    <Section id="people" title="People">
      <form
        aria-labelledby="add-person"
        onSubmit={(e) => {
          e.preventDefault();
          void add();
        }}
      >
        <h3 id="add-person">Add a person or a service</h3>
        <label>
          Name
          <input required value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} placeholder="alice" />
        </label>
        <label>
          Slack user ID (optional)
          <input value={form.slackId} onInput={(e) => setForm({ ...form, slackId: e.currentTarget.value })} placeholder="U012ABCDEF" />
        </label>
        <label>
          Kind
          <select value={form.kind} onChange={(e) => setForm({ ...form, kind: e.currentTarget.value === "service" ? "service" : "person" })}>
            <option value="person">person</option>
            <option value="service">service (CI jobs)</option>
          </select>
        </label>
        <span>
          <input id="new-admin" type="checkbox" checked={form.admin} onChange={(e) => setForm({ ...form, admin: e.currentTarget.checked })} /> <label for="new-admin">Admin</label>
        </span>{" "}
        <button type="submit">Add</button>
      </form>
      <OutcomeLine outcome={outcome} />
      <ListingTable
        state={people}
        empty="Nobody yet."
        cols={["Name", "Slack", "Kind", "Holding", "Admin"]}
        row={(p) => (
          <tr key={p.id}>
            <th scope="row">{p.displayName ? `${p.displayName} (${p.name})` : p.name}</th>
            <td>{p.slackUserId ?? "–"}</td>
            <td>{p.kind}</td>
            <td>{p.holding}</td>
            <td>
              {p.admin ? "admin " : ""}
              {p.name !== "operator" && p.name !== "system" && (
                <button type="button" class="secondary" onClick={() => void setAdmin(p, !p.admin)}>
                  {p.admin ? `Remove admin from ${p.name}` : `Make ${p.name} an admin`}
                </button>
              )}
            </td>
          </tr>
        )}
      />
    </Section>
  );
}

/** Every token (never its value), with Revoke. */
export function Tokens({ version, refresh }: SectionProps) {
  const { api } = usePage();
  const when = useWhen();
  const { outcome, run } = useActions();
  const tokens = useListing(() => api.GET("/v1/tokens"), version);
  const revoke = (t: Token) =>
    run(
      api.DELETE("/v1/tokens/{id}", { params: { path: { id: t.id } } }),
      (r) => `Token ${r.id} of ${r.person} is revoked${r.alsoRevoked.length > 0 ? `, with the tokens made with it (${r.alsoRevoked.join(", ")})` : ""}.`,
      refresh,
    );
  return (
    <Section id="tokens" title="Tokens">
      <OutcomeLine outcome={outcome} />
      <ListingTable
        state={tokens}
        empty="No tokens."
        cols={["Token", "Person", "Label", "Made", "Expires", "Last used", "Revoke"]}
        row={(t) => (
          <tr key={t.id}>
            <th scope="row">
              <code>{t.prefix}…</code> ({t.id})
            </th>
            <td>{t.person.name}</td>
            <td>{t.label ?? ""}</td>
            <td>
              {when(t.createdAt)} by {t.createdBy}
            </td>
            <td>{t.expiresAt ? when(t.expiresAt) : "never"}</td>
            <td>{when(t.lastUsedAt)}</td>
            <td>
              {t.revokedAt ? (
                `revoked ${when(t.revokedAt)}`
              ) : (
                <ConfirmButton label="Revoke" name={`Revoke token ${t.id} of ${t.person.name}`} question={`Revoke ${t.person.name}'s token ${t.prefix}… and the tokens made with it?`} confirm="Yes, revoke it" onConfirm={() => revoke(t)} />
              )}
            </td>
          </tr>
        )}
      />
    </Section>
  );
}
