// By hand: the tests' dockerd and base image.
//   npx tsx test/docker/cli.ts up     start the test dockerd and leave it running (test runs will not stop it)
//   npx tsx test/docker/cli.ts base   make the base image (and the cached rootfs) if missing; prints its name
//   npx tsx test/docker/cli.ts sshd   make the provisioned pools' test image (base + openssh-server); prints its name
//   npx tsx test/docker/cli.ts down   stop the test dockerd if this helper started it
// Then: DOCKER_HOST=unix:///run/vmres-test-docker.sock docker images
import { openTestDocker, readState, stopDaemon } from "./daemon.js";
import { ensureBaseImage } from "./base-image.js";
import { ensureSshImage } from "./ssh-image.js";

const command = process.argv[2];
if (command === "up") {
  await openTestDocker({ keep: true });
  console.log(`test dockerd running: DOCKER_HOST=unix:///run/vmres-test-docker.sock (pid ${readState()?.pid ?? "started elsewhere"})`);
} else if (command === "base") {
  const docker = await openTestDocker();
  try {
    console.log(await ensureBaseImage(docker, (line) => console.error(line)));
  } finally {
    await docker.release();
  }
} else if (command === "sshd") {
  const docker = await openTestDocker();
  try {
    console.log(JSON.stringify(await ensureSshImage(docker, (line) => console.error(line))));
  } finally {
    await docker.release();
  }
} else if (command === "down") {
  const state = readState();
  if (state) await stopDaemon(state.pid);
  else console.error("no test dockerd started by this helper is running");
} else {
  console.error("usage: npx tsx test/docker/cli.ts up|base|sshd|down");
  process.exitCode = 2;
}
