// Type assertions on the client's methods, checked by `npm run typecheck` (never run):
// each resolves with the schema's type, and an answer is JSON, not events.
import { createProtostarClient, type Document, type Summary, type SummaryJob, type Answer, type Job, type SearchResponse, type Webhook, type Delivery } from "../src/index.js";
const c = createProtostarClient({ baseUrl: "", apiKey: "" });
export async function probe() {
  const d: Document = await c.documents.get("x");
  const s: Summary | SummaryJob = await c.summaries.request("x");
  const a: Answer = await c.answer({ question: "q" });
  const j: Job = await c.documents.sync();
  const r: SearchResponse = await c.search({ query: "q" });
  const w: Webhook[] = await c.webhooks.list();
  const ds: Delivery[] = (await c.webhooks.deliveries("x")).deliveries;
  const del: undefined = await c.documents.delete("x");
  // @ts-expect-error an answer is not an array of events
  const bad: unknown[] = await c.answer({ question: "q" });
  return [d, s, a, j, r, w, ds, del, bad];
}
