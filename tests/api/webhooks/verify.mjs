// Verifies webhook deliveries with the Standard Webhooks reference library (not tokend's code):
// reads a JSON list of {"secret", "headers", "body"} on stdin and prints a JSON list of
// {"ok": true, "payload": <the verified message>} or {"ok": false, "error": "..."}.
import { Webhook } from "standardwebhooks";

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const out = JSON.parse(input).map(({ secret, headers, body }) => {
    try {
      return { ok: true, payload: new Webhook(secret).verify(body, headers) };
    } catch (e) {
      return { ok: false, error: String(e && e.message ? e.message : e) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
