import { useState } from "preact/hooks";
import type { components } from "../../../src/client/index.js";
import { CopyButton } from "../copy.js";
import { when } from "../format.js";
import { useLive } from "../live.js";
import { problemText } from "../problem.js";
import { usePage } from "../session.js";
import { ACTIONS, Alert, AskFirst, ListingTable, Section, useListing, useVersion } from "../ui.js";
import { takeNews, type JustDone } from "./just-done.js";
import { MyImages } from "./my-images.js";
import { MyTokens } from "./my-tokens.js";
import "./pages.css";

type Vm = components["schemas"]["Vm"];
type Place = components["schemas"]["QueuePlace"];

/** My VMs (SSH line, Extend, Check in), my queue places (Take it / Pass), my tokens. */
export function MinePage() {
  const { api } = usePage();
  const [news] = useState<JustDone | null>(takeNews);
  const [said, say] = useState("");
  // Bumped after every change, so every section reads its lists again.
  const [version, reload] = useVersion();
  const { data: me, error } = useListing(() => api.GET("/v1/me"), version);
  // Changes made elsewhere (an offer, a forced check-in, a token revoked): read everything again.
  useLive(reload);
  const done = (words: string) => {
    say(words);
    reload();
  };
  return (
    <>
      <h1>Mine</h1>
      {news && <News news={news} />}
      <p role="status" class="ok">
        {said}
      </p>
      <Alert text={error} />
      <Section id="my-vms" title="My VMs">
        {me === null && !error && <p>Loading…</p>}
        {me && me.holds.length === 0 && <p>You hold no VM. Check one out on the Pools page.</p>}
        {me?.holds.map((vm) => <MyVm key={vm.name} vm={vm} done={done} />)}
      </Section>
      <Section id="my-queues" title="My queue places">
        <ListingTable
          state={{ data: me?.queues ?? null, error: null }}
          loading={null}
          empty={<p>You wait in no queue.</p>}
          cols={["Pool", "Place", "Offer", ACTIONS]}
          row={(place) => (
            <MyPlace key={place.id} place={place} done={done} />
          )}
        />
      </Section>
      <MyImages done={done} version={version} />
      <MyTokens />
    </>
  );
}

/** What the Pools page just did, said first (in a status region, so it is read out). */
function News({ news }: { news: JustDone }) {
  if (news.kind === "lent") {
    const vm = news.vm;
    return (
      <div class="news" role="status">
        <p>
          <strong>{vm.vm}</strong> is yours (pool {vm.pool}), IP <code>{vm.ip}</code>. Reach it with <code class="ssh">{vm.ssh}</code>
        </p>
        {vm.cleanupBlocked && <p class="warning">This pool's cleanup is blocked now: once checked in, the VM waits in cleaning until an admin acts.</p>}
      </div>
    );
  }
  if (news.kind === "creating") {
    return (
      <div class="news" role="status">
        <p>
          <strong>{news.creating.instance}</strong> is being created for you in pool {news.creating.pool}; it shows here once ready (Slack tells you too).
        </p>
      </div>
    );
  }
  return (
    <div class="news" role="status">
      <p>
        {news.place.already ? "You were in" : "You joined"} the queue of pool {news.place.pool}: number {news.place.position}. A VM that frees up is offered to you here and in Slack.
      </p>
    </div>
  );
}

function MyVm({ vm, done }: { vm: Vm; done: (words: string) => void }) {
  const { api, timeZone } = usePage();
  const [by, setBy] = useState("");
  const [refusal, setRefusal] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = vm.checkoutId;
  const extend = async (event: Event) => {
    event.preventDefault();
    if (id === null) return;
    setBusy(true);
    setRefusal(null);
    const { data, error } = await api.POST("/v1/checkouts/{id}/extend", { params: { path: { id } }, body: by.trim() ? { by: by.trim() } : {} });
    setBusy(false);
    if (!data) return setRefusal(problemText(error));
    setBy("");
    done(`The lease of ${vm.name} now ends ${when(data.endsAt, timeZone)}.`);
  };
  const checkin = async () => {
    if (id === null) return;
    setBusy(true);
    setRefusal(null);
    const { data, error } = await api.DELETE("/v1/checkouts/{id}", { params: { path: { id } } });
    setBusy(false);
    if (!data) return setRefusal(problemText(error));
    done(`Checked in ${data.vm}: ${data.nextState === "cleaning" ? "it is being cleaned, then goes back to the pool" : data.nextState === "available" ? "it is back in the pool" : "it is retired"}.`);
  };
  const ends = `vm-${vm.name}-ends`;
  return (
    <article class="vm-card" aria-labelledby={`vm-${vm.name}`}>
      <h3 id={`vm-${vm.name}`}>{vm.name}</h3>
      <p>
        Pool {vm.pool} · IP <code>{vm.ip}</code> · <span id={ends}>lease ends {when(vm.endsAt, timeZone)}</span>
        {vm.note && <> · note: {vm.note}</>}
      </p>
      <p>
        <code class="ssh">{vm.ssh}</code> <CopyButton text={vm.ssh} what={`the SSH line of ${vm.name}`} />
      </p>
      <div class="actions">
        <form class="inline-form" onSubmit={(e) => void extend(e)}>
          <label>
            Extend {vm.name} by
            <input value={by} onInput={(e) => setBy(e.currentTarget.value)} placeholder="the pool's lease" size={14} aria-describedby={ends} />
          </label>
          <button type="submit" disabled={busy}>
            Extend
          </button>
        </form>
        <AskFirst
          label="Check in"
          name={`Check in ${vm.name}`}
          group={`Confirm check-in of ${vm.name}`}
          question={`Check in ${vm.name}? Its /tmp is wiped and it goes back to the pool.`}
          confirm="Yes, check in"
          busy={busy}
          onConfirm={checkin}
        />
      </div>
      <Alert text={refusal} />
    </article>
  );
}

function MyPlace({ place, done }: { place: Place; done: (words: string) => void }) {
  const { api, timeZone } = usePage();
  const [refusal, setRefusal] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const act = async (what: "take" | "pass" | "leave") => {
    setBusy(true);
    setRefusal(null);
    const path = { params: { path: { id: place.id } } };
    if (what === "take") {
      const { data, error } = await api.POST("/v1/queues/{id}/take", path);
      setBusy(false);
      if (!data) return setRefusal(problemText(error));
      return done(`${data.vm} is yours: ${data.ssh}`);
    }
    const { data, error } = what === "pass" ? await api.POST("/v1/queues/{id}/pass", path) : await api.DELETE("/v1/queues", { params: { query: { pool: place.pool } } });
    setBusy(false);
    if (!data) return setRefusal(problemText(error));
    done(what === "pass" ? `You passed: the VM goes to the next in pool ${place.pool}'s queue.` : `You left the queue of pool ${place.pool}.`);
  };
  return (
    <tr>
      <th scope="row">{place.pool}</th>
      <td>{place.position}</td>
      <td>
        {place.state === "offered" && place.offeredVm ? `${place.offeredVm}, held for you until ${when(place.offerExpiresAt, timeZone)}` : "waiting"}
        <Alert text={refusal} />
      </td>
      <td>
        <div class="inline-form">
          {place.state === "offered" && (
            <>
              <button type="button" disabled={busy} onClick={() => void act("take")}>
                Take it
              </button>
              <button type="button" class="secondary" disabled={busy} onClick={() => void act("pass")}>
                Pass
              </button>
            </>
          )}
          {place.state === "waiting" && (
            <button type="button" class="secondary" disabled={busy} onClick={() => void act("leave")} aria-label={`Leave the queue of pool ${place.pool}`}>
              Leave the queue
            </button>
          )}
        </div>
      </td>
    </tr>
  );
}
