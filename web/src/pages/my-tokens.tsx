import { useCallback, useEffect, useState } from "preact/hooks";
import type { components } from "../../../src/client/index.js";
import { CopyButton } from "../copy.js";
import { when } from "../format.js";
import { problemText } from "../problem.js";
import { usePage } from "../session.js";

type Token = components["schemas"]["Token"];
type NewToken = components["schemas"]["NewToken"];

/** My API tokens (never their values): make one (its value shown once, with a Copy button), revoke one. */
export function MyTokens() {
  const { api, timeZone, session } = usePage();
  const [tokens, setTokens] = useState<Token[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [label, setLabel] = useState("");
  const [lifetime, setLifetime] = useState("");
  const [made, setMade] = useState<NewToken | null>(null);
  const [refusal, setRefusal] = useState<string | null>(null);
  const [said, say] = useState("");
  const [busy, setBusy] = useState(false);
  const load = useCallback(async () => {
    // Admins would list everyone's without ?user: this section is about mine.
    const { data, error } = await api.GET("/v1/tokens", { params: { query: { user: session.person.name } } });
    if (data) {
      setTokens(data);
      setError(null);
    } else setError(problemText(error));
  }, [api, session.person.name]);
  useEffect(() => {
    void load();
  }, [load]);
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
    void load();
  };
  const now = Date.now();
  const active = (tokens ?? []).filter((t) => t.revokedAt === null && (t.expiresAt === null || Date.parse(t.expiresAt) > now));
  return (
    <section aria-labelledby="my-tokens">
      <h2 id="my-tokens">My API tokens</h2>
      <p class="muted">For the CLI and scripts (docs/api.md). vmres keeps only a hash: a token's value is shown once, when it is made.</p>
      {error && <p role="alert">{error}</p>}
      {tokens && active.length === 0 && <p>You have no token in force.</p>}
      {active.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Label</th>
              <th scope="col">Starts with</th>
              <th scope="col">Made</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {active.map((t) => (
              <TokenRow key={t.id} token={t} timeZone={timeZone} done={(words) => (say(words), void load())} />
            ))}
          </tbody>
        </table>
      )}
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
      {refusal && <p role="alert">{refusal}</p>}
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
    </section>
  );
}

function TokenRow({ token, timeZone, done }: { token: Token; timeZone: string; done: (words: string) => void }) {
  const { api } = usePage();
  const [confirming, setConfirming] = useState(false);
  const [refusal, setRefusal] = useState<string | null>(null);
  const name = token.label ?? `${token.prefix}…`;
  const revoke = async () => {
    const { data, error } = await api.DELETE("/v1/tokens/{id}", { params: { path: { id: token.id } } });
    setConfirming(false);
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
        {!confirming && (
          <button type="button" class="danger" onClick={() => setConfirming(true)} aria-label={`Revoke the token ${name}`}>
            Revoke
          </button>
        )}
        {confirming && (
          <div role="group" aria-label={`Confirm revoking the token ${name}`} class="inline-form">
            <span>Revoke it? Scripts using it stop working.</span>
            <button type="button" class="danger" onClick={() => void revoke()}>
              Yes, revoke
            </button>
            <button type="button" class="secondary" onClick={() => setConfirming(false)}>
              Keep it
            </button>
          </div>
        )}
        {refusal && <p role="alert">{refusal}</p>}
      </td>
    </tr>
  );
}
