import type { types } from "@slack/bolt";
import { truncate } from "./format.js";

/** Block Kit primitives with Slack's length limits applied, so a long name or error never gets a message refused. */
export type Block = types.KnownBlock;
export type ButtonElement = types.Button;

/** A reply, DM or alert: blocks for Slack clients, text for notifications and screen readers. */
export interface SlackMessage {
  text: string;
  blocks: Block[];
}

export function section(text: string, accessory?: ButtonElement): types.SectionBlock {
  return { type: "section", text: { type: "mrkdwn", text: truncate(text, 3000) }, ...(accessory ? { accessory } : {}) };
}

export function fields(pairs: [label: string, value: string][]): types.SectionBlock {
  return { type: "section", fields: pairs.slice(0, 10).map(([label, value]) => ({ type: "mrkdwn", text: truncate(`*${label}*\n${value}`, 2000) })) };
}

export function context(...texts: string[]): types.ContextBlock {
  return { type: "context", elements: texts.slice(0, 10).map((t) => ({ type: "mrkdwn", text: truncate(t, 3000) })) };
}

export function header(text: string): types.HeaderBlock {
  return { type: "header", text: { type: "plain_text", text: truncate(text, 150), emoji: true } };
}

export function divider(): types.DividerBlock {
  return { type: "divider" };
}

export function actions(buttons: ButtonElement[], blockId?: string): types.ActionsBlock {
  return { type: "actions", elements: buttons.slice(0, 25), ...(blockId ? { block_id: blockId } : {}) };
}

/** A confirmation dialog for buttons whose effect cannot be undone with one click. */
export interface Confirm {
  title: string;
  text: string;
  confirm: string;
}

export function button(opts: { text: string; actionId: string; value: string; style?: "primary" | "danger"; confirm?: Confirm }): ButtonElement {
  return {
    type: "button",
    text: { type: "plain_text", text: truncate(opts.text, 75), emoji: true },
    action_id: opts.actionId,
    value: opts.value,
    ...(opts.style ? { style: opts.style } : {}),
    ...(opts.confirm
      ? {
          confirm: {
            title: { type: "plain_text", text: truncate(opts.confirm.title, 100) },
            text: { type: "mrkdwn", text: truncate(opts.confirm.text, 300) },
            confirm: { type: "plain_text", text: truncate(opts.confirm.confirm, 30) },
            deny: { type: "plain_text", text: "Cancel" },
          },
        }
      : {}),
  };
}

/** A message of one section: for short answers. */
export function plain(text: string): SlackMessage {
  return { text: stripMrkdwn(text), blocks: [section(text)] };
}

/**
 * Notification text: without the bold and code markers a notification would
 * show literally. "_" stays: it is part of SSH user names.
 */
export function stripMrkdwn(text: string): string {
  return text.replace(/[*`]/g, "");
}
