import { context, divider, section, type SlackMessage } from "./blocks.js";

const USER_LINES = [
  "`/vm checkout [pool]` — borrow a free VM; its IP and SSH line come by DM",
  "`/vm checkin [vm]` — give it back (vmres wipes /tmp, then returns it to the pool)",
  "`/vm list` — the VMs you hold",
  "`/vm status` — every pool, by state",
  "`/vm help` — this help",
];

const ADMIN_LINES = [
  "`/vm admin add NAME IP [--pool P] [--ssh-user U] [--ssh-port N] [--host-key SHA256:…] [--tags a,b]`",
  "`/vm admin remove VM` — retire it (a held VM at check-in)",
  "`/vm admin drain VM` — take it out of service (maintenance)",
  "`/vm admin repair VM` — return it from maintenance or quarantine",
  "`/vm admin retry-cleanup VM` — clean a quarantined VM again",
  "`/vm admin force-checkin VM` — take a VM back from its holder (they are told)",
  "`/vm admin history VM` — what happened to it, newest first",
];

/** Usage help; admins also see the admin commands. `problem` says what was wrong with what was typed. */
export function helpMessage(opts: { isAdmin: boolean; adminTopic: boolean; problem?: string }): SlackMessage {
  const blocks = [];
  if (opts.problem) blocks.push(section(`:thinking_face: ${opts.problem}`), divider());
  if (!opts.adminTopic) blocks.push(section(`*Using vmres*\n${USER_LINES.join("\n")}`));
  if (opts.isAdmin || opts.adminTopic) {
    blocks.push(section(`*Admin*${opts.isAdmin ? "" : " (admins only)"}\n${ADMIN_LINES.join("\n")}`));
  }
  blocks.push(context("Your VMs and the pools are also on the vmres *Home* tab."));
  const text = opts.problem ?? "vmres: /vm checkout, /vm checkin, /vm list, /vm status, /vm help";
  return { text, blocks };
}
