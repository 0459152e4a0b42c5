import { useState } from "preact/hooks";

/**
 * A Copy button for a line (an SSH line, a token) with a visible "Copied" in a
 * role="status" region, so screen readers hear it too. Where the clipboard is not
 * allowed (a page not served over HTTPS or localhost), it says how to copy by hand.
 */
export function CopyButton({ text, what }: { text: string; what: string }) {
  const [status, setStatus] = useState("");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setStatus("Copied");
    } catch {
      setStatus("Copying is not allowed here: select the text and press Ctrl+C");
    }
  };
  return (
    <span class="copy">
      <button type="button" class="secondary" onClick={() => void copy()} aria-label={`Copy ${what}`}>
        Copy
      </button>
      <span role="status" class="ok">
        {status}
      </span>
    </span>
  );
}
