import { useState } from "preact/hooks";
import type { components } from "../../../src/client/index.js";
import { CopyButton } from "../copy.js";
import { when } from "../format.js";
import { problemText } from "../problem.js";
import { usePage } from "../session.js";
import { ACTIONS, Alert, AskFirst, ListingTable, Section, useListing, useVersion } from "../ui.js";

type Token = components["schemas"]["Token"];
type NewToken = components["schemas"]["NewToken"];

/** My API tokens (never their values): make one (its value shown once, with a Copy button), revoke one. */
export function MyTokens() {
  const { api, timeZone, session } = usePage();
  const [version, reload] = useVersion();
  // Admins would list everyone's without ?user: this section is about mine.
  const tokens = useListing(() => api.GET("/v1/tokens", { params: { query: { user: session.person.name } } }), version);
  const [label, setLabel] = useState("");
  const [lifetime, setLifetime] = useState("");
  const [made, setMade] = useState<NewToken | null>(null);
  const [refusal, setRefusal] = useState<string | null>(null);
  const [said, say] = useState("");
  const [busy, setBusy] = useState(false);
  const make = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setRefusal(null);
    setMade(null);
    const body = { ...(label.trim() ? { label: label.trim() } : {}), ...(lifetime.trim() ? { expires: lifetime.trim() } : {}) };
    const { data, error } = await api.POST("/v1/tokens", { body });
    setBusy(false);
    if (!data) return setRefusal(problemText(error));
    setMade(data);
    setLabel("");
    setLifetime("");
    reload();
  };
  const now = Date.now();
  const active = tokens.data?.filter((t) => t.revokedAt === null && (t.expiresAt === null || Date.parse(t.expiresAt) > now));
  return (
    <Section id="my-tokens" title="My API tokens">
      <p class="muted">For the CLI and scripts (docs/api.md). vmres keeps only a hash: a token's value is shown once, when it is made.</p>
      <ListingTable
        state={{ data: active ?? null, error: tokens.error }}
        loading={null}
        empty={<p>You have no token in force.</p>}
        cols={["Label", "Starts with", "Made", "Expires", "Last used", ACTIONS]}
        row={(t) => (
          <TokenRow key={t.id} token={t} timeZone={timeZone} done={(words) => (say(words), reload())} />
        )}
      />
      <p role="status" class="ok">
        {said}
      </p>
      <form class="inline-form" onSubmit={(e) => void make(e)} aria-label="Make a token">
        <label>
          Label
          <input value={label} onInput={(e) => setLabel(e.currentTarget.value)} maxLength={100} placeholder="laptop" />
        </label>
        <label>
          Lifetime
          <input value={lifetime} onInput={(e) => setLifetime(e.currentTarget.value)} placeholder="like 90d" size={10} aria-describedby="lifetime-hint" />
        </label>
        <button type="submit" disabled={busy}>
          Make a token
        </button>
      </form>
      <span id="lifetime-hint" class="muted hint">
        Empty: the longest the service allows.
      </span>
      <Alert text={refusal} />
      {made && (
        <div class="news" role="status">
          <p>
            Your new token{made.label ? ` "${made.label}"` : ""}, shown this once{made.expiresAt ? `, good until ${when(made.expiresAt, timeZone)}` : ""}:
          </p>
          <p>
            <span class="secret">{made.token}</span> <CopyButton text={made.token} what="the new token" />
          </p>
        </div>
      )}
    </Section>
  );
}

function TokenRow({ token, timeZone, done }: { token: Token; timeZone: string; done: (words: string) => void }) {
  const { api } = usePage();
  const [refusal, setRefusal] = useState<string | null>(null);
  const name = token.label ?? `${token.prefix}…`;
  const revoke = async () => {
    const { data, error } = await api.DELETE("/v1/tokens/{id}", { params: { path: { id: token.id } } });
    if (!data) return setRefusal(problemText(error));
    const also = data.alsoRevoked.length;
    done(`Revoked the token ${name}${also ? ` and ${also === 1 ? "1 token" : `${also} tokens`} made with it` : ""}.`);
  };
  return (
    <tr>
      <th scope="row">{token.label ?? <span class="muted">no label</span>}</th>
      <td>
        <code>{token.prefix}…</code>
      </td>
      <td>{when(token.createdAt, timeZone)}</td>
      <td>{token.expiresAt ? when(token.expiresAt, timeZone) : "never"}</td>
      <td>{token.lastUsedAt ? when(token.lastUsedAt, timeZone) : "never"}</td>
      <td>
        <AskFirst label="Revoke" name={`Revoke the token ${name}`} group={`Confirm revoking the token ${name}`} question="Revoke it? Scripts using it stop working." confirm="Yes, revoke" onConfirm={revoke} />
        <Alert text={refusal} />
      </td>
    </tr>
  );
}
