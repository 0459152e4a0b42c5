/** The text to show for a refused /v1 request: the problem's detail (RFC 9457), said as the core said it. */
export function problemText(error: unknown): string {
  if (error && typeof error === "object" && "detail" in error && typeof error.detail === "string") return error.detail;
  return "vmres did not answer as expected; try again";
}
