import { useCallback, useEffect, useState } from "preact/hooks";
import type { components } from "../../../src/client/index.js";
import { useLive } from "../live.js";
import { problemText } from "../problem.js";
import { usePage } from "../session.js";

type Pool = components["schemas"]["Pool"];

/** Every pool with its VMs counted by state. */
export function PoolsPage() {
  const { api } = usePage();
  const [pools, setPools] = useState<Pool[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    void api.GET("/v1/pools").then(({ data, error }) => {
      if (data) {
        setPools(data);
        setError(null);
      } else setError(problemText(error));
    });
  }, [api]);
  useEffect(load, [load]);
  // A checkout, check-in, cleanup or booking anywhere: fetch the counts again.
  useLive(load);
  return (
    <>
      <h1>Pools</h1>
      {error && <p role="alert">{error}</p>}
      {pools === null && !error && <p>Loading…</p>}
      {pools && (
        <table>
          <caption class="muted">{pools.length === 1 ? "1 pool" : `${pools.length} pools`}</caption>
          <thead>
            <tr>
              <th scope="col">Pool</th>
              <th scope="col">Free</th>
              <th scope="col">Checked out</th>
              <th scope="col">Cleaning</th>
              <th scope="col">Total</th>
            </tr>
          </thead>
          <tbody>
            {pools.map((p) => (
              <tr key={p.name}>
                <th scope="row">{p.name}</th>
                <td>{p.counts.available}</td>
                <td>{p.counts.checked_out}</td>
                <td>{p.counts.cleaning}</td>
                <td>{p.total}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
