import { useCallback, useState } from "preact/hooks";
import { useLive } from "../live.js";
import { People, Tokens } from "./admin/people.js";
import { Images, Instances, ProviderJobs } from "./admin/provisioned.js";
import { AttentionVms, BlockedCleanups, DrainVm, OpenCheckouts } from "./admin/vms.js";

/**
 * The admins' page: what needs an admin (quarantined and maintenance VMs,
 * cleanups that cannot run), drain and force check-in, the provisioned pools'
 * jobs, instances and images, people and tokens. Every action is a /v1 call the
 * core decides; a refusal is shown where it was asked, in the core's words.
 */
export function AdminPage() {
  // Bumped after every action, so each section shows the state the action left.
  const [version, setVersion] = useState(0);
  const refresh = useCallback(() => setVersion((v) => v + 1), []);
  // What changes elsewhere (a VM quarantined, a cleanup ending, a checkout) shows without a reload.
  useLive(refresh);
  const props = { version, refresh };
  return (
    <>
      <h1>Admin</h1>
      <AttentionVms {...props} />
      <BlockedCleanups {...props} />
      <DrainVm {...props} />
      <OpenCheckouts {...props} />
      <ProviderJobs {...props} />
      <Instances {...props} />
      <Images {...props} />
      <People {...props} />
      <Tokens {...props} />
    </>
  );
}
