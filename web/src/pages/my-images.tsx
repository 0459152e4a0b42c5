import { useState } from "preact/hooks";
import type { components } from "../../../src/client/index.js";
import { when } from "../format.js";
import { problemText } from "../problem.js";
import { usePage } from "../session.js";
import { ACTIONS, Alert, ListingTable, Section, useListing } from "../ui.js";

type Image = components["schemas"]["Image"];

/** My saved images (provisioned pools), each with Restore: a checkout of its pool made from it. */
export function MyImages({ done, version }: { done: (words: string) => void; version: number }) {
  const { api, timeZone } = usePage();
  const listing = useListing(() => api.GET("/v1/images", { params: { query: { user: "me" } } }), version);
  const [refusal, setRefusal] = useState<{ image: string; text: string } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const restore = async (image: Image) => {
    setBusy(image.name);
    setRefusal(null);
    const { data, error, response } = await api.POST("/v1/checkouts", { body: { pool: image.pool, restore: image.name } });
    setBusy(null);
    if (!data) return setRefusal({ image: image.name, text: problemText(error) });
    if (response.status === 202 && "instance" in data) return done(`${data.instance} is being created from ${image.name}; it shows here once ready (Slack tells you too).`);
    if ("vm" in data) done(`${data.vm} is yours, made from ${image.name}: ${data.ssh}`);
  };
  return (
    <Section id="my-images" title="My saved images">
      <ListingTable
        state={listing}
        loading={null}
        empty={<p>You have no saved image. Checking in a VM of a provisioned pool with "keep" saves one.</p>}
        cols={["Image", "Pool", "State", "Saved", ACTIONS]}
        row={(image) => (
          <tr key={image.name}>
            <th scope="row">{image.name}</th>
            <td>{image.pool}</td>
            <td>{image.state}</td>
            <td>{when(image.createdAt, timeZone)}</td>
            <td>
              {image.state === "ready" && (
                <button type="button" disabled={busy !== null} onClick={() => void restore(image)} aria-label={`Restore ${image.name}`}>
                  Restore
                </button>
              )}
              {refusal?.image === image.name && <Alert text={refusal.text} />}
            </td>
          </tr>
        )}
      />
    </Section>
  );
}
