// The README's "Use" section, type-checked by `npm run typecheck` so that
// it stays true. Not run: it needs a server (test/ runs the same calls).
import { createReadStream } from "node:fs";

import { createProtostarClient, ProblemError } from "@protostar/client";

export async function usage(): Promise<void> {
  const protostar = createProtostarClient({
    baseUrl: "http://127.0.0.1:8080",
    apiKey: process.env.PROTOSTAR_API_KEY!,
    tenant: "org_4815",
  });

  const { document, job } = await protostar.uploadDocument({
    file: createReadStream("notes/postgres-tuning.ko.md"),
    key: "guides/postgres-tuning.md",
    metadata: { team: "infra" },
  });
  const done = await protostar.waitForJob(job.id, { timeoutMs: 120_000 });
  if (done.status !== "succeeded") throw new Error(done.error);

  const { results } = await protostar.search({ query: "데이터베이스 튜닝", top_k: 5 });
  const answer = await protostar.answer({ question: "백업은 언제 실행되나요?" });
  const summary = await protostar.summaries.summarize(document.id, "short");
  console.log(results[0]?.heading_path.join(" > "), answer.citations.length, summary.summary);

  const abort = new AbortController();
  for await (const ev of protostar.answerStream({ question: "How do we roll back a release?" }, { signal: abort.signal })) {
    if (ev.event === "delta") process.stdout.write(ev.data.text);
    else if (ev.event === "citation") console.log(`\n[${ev.data.index}] ${ev.data.key}`);
  }

  for await (const ev of protostar.jobEvents(job.id)) console.log(ev.event, ev.data.progress);

  try {
    await protostar.documents.get("no-such-id");
  } catch (err) {
    if (err instanceof ProblemError && err.status === 404) {
      console.log(err.title, err.detail, err.type, err.instance, err.requestId, err.retryAfter);
    } else throw err;
  }

  const { data } = await protostar.api.GET("/v1/documents/{id}", { params: { path: { id: document.id } } });
  console.log(data?.status);
}
