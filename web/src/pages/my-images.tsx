import { useCallback, useEffect, useState } from "preact/hooks";
import type { components } from "../../../src/client/index.js";
import { when } from "../format.js";
import { problemText } from "../problem.js";
import { usePage } from "../session.js";

type Image = components["schemas"]["Image"];

/** My saved images (provisioned pools), each with Restore: a checkout of its pool made from it. */
export function MyImages({ done, version }: { done: (words: string) => void; version: number }) {
  const { api, timeZone } = usePage();
  const [images, setImages] = useState<Image[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [refusal, setRefusal] = useState<{ image: string; text: string } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const load = useCallback(async () => {
    const { data, error } = await api.GET("/v1/images", { params: { query: { user: "me" } } });
    if (data) {
      setImages(data);
      setError(null);
    } else setError(problemText(error));
  }, [api]);
  useEffect(() => {
    void load();
  }, [load, version]);
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
    <section aria-labelledby="my-images">
      <h2 id="my-images">My saved images</h2>
      {error && <p role="alert">{error}</p>}
      {images && images.length === 0 && <p>You have no saved image. Checking in a VM of a provisioned pool with "keep" saves one.</p>}
      {images && images.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Image</th>
              <th scope="col">Pool</th>
              <th scope="col">State</th>
              <th scope="col">Saved</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {images.map((image) => (
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
                  {refusal?.image === image.name && <p role="alert">{refusal.text}</p>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
