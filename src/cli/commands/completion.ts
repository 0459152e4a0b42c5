import { done, type StandalonePrepare } from "../command.js";
import { completionScript, SHELLS, type Shell } from "../completion.js";
import { GRAMMAR } from "../../commands/grammar.js";
import { offers } from "../../commands/spec.js";

/** `vmres completion bash|zsh|fish`: the shell's completion script, made from the command table (src/cli/completion.ts). */
export const prepareCompletion: StandalonePrepare = (input) => {
  // The grammar allows only these words (SHELL's values), so the parser has refused any other.
  const shell = input.args["SHELL"] as Shell;
  const script = completionScript(SHELLS.includes(shell) ? shell : "bash", GRAMMAR.filter((spec) => offers(spec, "cli")));
  return () => Promise.resolve(done({ shell, script }, script.trimEnd()));
};
