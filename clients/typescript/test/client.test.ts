// The client against the real server: `protostar all` on the real stack
// (Postgres, Redis, MinIO), started by the harness.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import { type AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";

import { createProtostarClient, ProblemError, StreamError, verifyWebhook, WebhookVerificationError, type Job } from "../src/index.js";
import { createTenants, freePort, rand, runKeys, startProtostar, type Protostar } from "./harness.js";

const keys = runKeys();
let server: Protostar;
let client: ReturnType<typeof createProtostarClient>;
let deleteTenants: () => Promise<void>;

const guide = `# PostgreSQL 튜닝

## 백업

백업은 매일 02:00에 pg_basebackup으로 실행됩니다. 복구 연습은 분기마다 합니다.

## Connection pooling

Use PgBouncer in transaction mode; keep max_connections low and size the pool per replica.
`;

before(async () => {
  server = await startProtostar("all", {
    PROTOSTAR_API_KEYS: keys.env,
    PROTOSTAR_SECRET_KEY: `ts-secret-${rand(16)}`,
    PROTOSTAR_WEBHOOK_ALLOW_HOSTS: "127.0.0.1",
    PROTOSTAR_RATE_LIMIT: "20",
    PROTOSTAR_RATE_BURST: "30",
  });
  deleteTenants = await createTenants(server.url, keys);
  client = createProtostarClient({ baseUrl: server.url, apiKey: keys.main.key });
});

after(async () => {
  try {
    await deleteTenants?.();
  } finally {
    await server?.stop();
  }
});

/** Uploads the guide under a fresh key and waits until it is indexed. */
async function readyDocument(c = client, text = guide) {
  const key = `guides/${rand()}/postgres-tuning.ko.md`;
  const { document, job } = await c.uploadDocument({ file: new Blob([text]), key, metadata: { team: "infra" } });
  const done = await c.waitForJob(job.id, { timeoutMs: 60_000 });
  assert.equal(done.status, "succeeded", done.error);
  return { ...document, key };
}

describe("a typed round trip", () => {
  test("upload, waitForJob, search, answer and summary", async () => {
    const doc = await readyDocument();
    const got = await client.documents.get(doc.id);
    assert.equal(got.status, "ready");
    assert.deepEqual(got.metadata, { team: "infra" });
    assert.ok(got.chunk_count > 0);

    const { results } = await client.search({ query: "백업 일정", top_k: 5, filter: { document_ids: [doc.id] } });
    assert.ok(results.length > 0, "search finds the document");
    assert.equal(results[0]!.document_id, doc.id);
    assert.ok(Array.isArray(results[0]!.heading_path), "heading_path is an array, never null");

    const answer = await client.answer({ question: "백업은 언제 실행되나요?", filter: { document_ids: [doc.id] } });
    assert.ok(answer.answer.length > 0);
    assert.ok(answer.citations.length > 0, "the answer cites the document");
    assert.equal(answer.citations[0]!.document_id, doc.id);

    const summary = await client.summaries.summarize(doc.id, "short", { timeoutMs: 60_000 });
    assert.equal(summary.document_id, doc.id);
    assert.equal(summary.length, "short");
    assert.ok(summary.summary.length > 0);
    const again = await client.summaries.request(doc.id, "short");
    assert.ok(!("job" in again) && again.cached, "a second request is the cached summary");
  });

  test("register by key, reindex and delete", async () => {
    const doc = await readyDocument();
    // The upload stored the object at <tenant>/<key>: registering the key
    // again makes a new version of the same document.
    const again = await client.documents.create({ key: doc.key, metadata: { team: "search" } });
    assert.equal(again.document.id, doc.id);
    assert.equal(again.job.type, "ingest");
    assert.equal((await client.waitForJob(again.job.id, { timeoutMs: 60_000 })).status, "succeeded");
    assert.deepEqual((await client.documents.get(doc.id)).metadata, { team: "search" });
    const reindexed = await client.documents.reindex(doc.id);
    assert.equal((await client.waitForJob(reindexed.job.id, { timeoutMs: 60_000 })).status, "succeeded");
    const listed = await client.documents.list({ key: doc.key });
    assert.deepEqual(listed.documents.map((d) => d.id), [doc.id]);
    await client.documents.delete(doc.id);
    const gone = await client.documents.get(doc.id).catch((e: unknown) => e);
    assert.ok(gone instanceof ProblemError && gone.status === 404);
  });

  test("uploads stream a Node Readable", async () => {
    const key = `streams/${rand()}.md`;
    async function* lines() {
      yield "# Streamed\n\n";
      for (let i = 0; i < 2000; i++) yield `Line ${i} of a document that is never held whole in memory.\n`;
    }
    const { document, job } = await client.uploadDocument({ file: Readable.from(lines()), key });
    assert.equal(document.key, key);
    const done = await client.waitForJob(job.id, { timeoutMs: 60_000 });
    assert.equal(done.status, "succeeded", done.error);
    const got = await client.documents.get(document.id);
    assert.ok(got.size > 100_000, `size ${got.size}`);
  });

  test("lists are arrays, never null, even when empty", async () => {
    const other = createProtostarClient({ baseUrl: server.url, apiKey: keys.other.key });
    const page = await other.documents.list({ status: "failed" });
    assert.deepEqual(page.documents, []);
    assert.deepEqual((await other.jobs.list({ status: "canceled" })).jobs, []);
    assert.deepEqual(await other.webhooks.list(), []);
  });

  test("a platform key acts for the tenant it names", async () => {
    const platform = createProtostarClient({ baseUrl: server.url, apiKey: keys.platform, tenant: keys.main.tenant });
    const page = await platform.documents.list({ limit: 1 });
    assert.equal(page.documents.length, 1);
    const perCall = createProtostarClient({ baseUrl: server.url, apiKey: keys.platform });
    const same = await perCall.documents.list({ limit: 1 }, { tenant: keys.main.tenant });
    assert.equal(same.documents[0]!.id, page.documents[0]!.id);
    const none = await perCall.documents.list({ limit: 1 }, { tenant: keys.other.tenant });
    assert.notEqual(none.documents[0]?.id, page.documents[0]!.id);
  });
});

describe("tenants and keys", () => {
  test("a platform key creates a tenant and its key, which works until revoked; deleting the tenant is a job", async () => {
    const platform = createProtostarClient({ baseUrl: server.url, apiKey: keys.platform });
    const id = `ts_${keys.run}_made`;
    const tenant = await platform.tenants.create({ id, name: "Initech" });
    assert.equal(tenant.id, id);
    assert.ok((await platform.tenants.list()).some((t) => t.id === id));

    const { key, secret } = await platform.keys.create({ name: "nestjs" }, { tenant: id });
    const own = createProtostarClient({ baseUrl: server.url, apiKey: secret });
    assert.deepEqual((await own.documents.list()).documents, []);
    assert.ok((await own.keys.list()).some((k) => k.id === key.id && k.prefix === key.prefix));

    const forbidden = await own.tenants.list().catch((e: unknown) => e);
    assert.ok(forbidden instanceof ProblemError && forbidden.status === 403, String(forbidden));

    const revoked = await platform.keys.revoke(key.id, { tenant: id });
    assert.ok(revoked.revoked_at);
    const { job } = await platform.tenants.delete(id);
    const done = await platform.waitForJob(job.id, { timeoutMs: 60_000 });
    assert.equal(done.status, "succeeded", done.error);
    assert.ok((await platform.tenants.get(id)).purged_at);
  });
});

describe("embedding spaces", () => {
  // Read-only against the shared stack: a space created here would be
  // written by every other run's ingests until retired. The model change
  // itself is tested end to end in Go (e2e/embeddings_test.go).
  test("a platform key lists the spaces and reads one's coverage; a tenant key may not", async () => {
    const platform = createProtostarClient({ baseUrl: server.url, apiKey: keys.platform });
    const spaces = await platform.embeddingSpaces.list();
    const active = spaces.find((s) => s.state === "active");
    assert.ok(active, JSON.stringify(spaces));
    assert.ok(active.dimensions > 0 && ["vector", "halfvec"].includes(active.index), JSON.stringify(active));

    const { space, tenants } = await platform.embeddingSpaces.get(active.id);
    assert.equal(space.id, active.id);
    assert.ok(tenants.every((t) => t.embedded <= t.chunks), JSON.stringify(tenants));

    const missing = await platform.embeddingSpaces.get(2 ** 40).catch((e: unknown) => e);
    assert.ok(missing instanceof ProblemError && missing.status === 404, String(missing));
    const forbidden = await client.embeddingSpaces.list().catch((e: unknown) => e);
    assert.ok(forbidden instanceof ProblemError && forbidden.status === 403, String(forbidden));
    const invalid = await platform.embeddingSpaces.create({ provider: "hash", model: "hash-v1", dimensions: 3 }).catch((e: unknown) => e);
    assert.ok(invalid instanceof ProblemError && invalid.status === 400, String(invalid));
  });
});

describe("problems", () => {
  test("401 for an unknown key", async () => {
    const bad = createProtostarClient({ baseUrl: server.url, apiKey: "not-a-key-0123456789" });
    const err = await bad.documents.list().catch((e: unknown) => e);
    assert.ok(err instanceof ProblemError);
    assert.equal(err.status, 401);
    assert.equal(err.title, "Unauthorized");
    assert.ok(err.detail);
    assert.match(err.instance ?? "", /^urn:protostar:request:/);
    assert.ok(err.requestId);
  });

  test("404 for another tenant's document", async () => {
    const doc = await readyDocument();
    const other = createProtostarClient({ baseUrl: server.url, apiKey: keys.other.key });
    const err = await other.documents.get(doc.id).catch((e: unknown) => e);
    assert.ok(err instanceof ProblemError);
    assert.equal(err.status, 404);
  });

  test("400 with the failing locations for an invalid request", async () => {
    const err = await client.search({ query: "x", top_k: 0 }).catch((e: unknown) => e);
    assert.ok(err instanceof ProblemError);
    assert.equal(err.status, 400);
    assert.ok(err.errors?.some((d) => d.location === "body.top_k"), JSON.stringify(err.errors));
  });

  test("422 when the generator refuses the answer", async () => {
    await readyDocument();
    const refusing = await refusingProvider();
    const api = await startProtostar("serve", {
      PROTOSTAR_API_KEYS: keys.env,
      PROTOSTAR_GENERATE_PROVIDER: "openai",
      PROTOSTAR_OPENAI_BASE_URL: `${refusing.url}/v1`,
      PROTOSTAR_OPENAI_API_KEY: "test",
    }, "serve-refusing");
    try {
      const c = createProtostarClient({ baseUrl: api.url, apiKey: keys.main.key });
      const err = await c.answer({ question: "백업은 언제 실행되나요?" }).catch((e: unknown) => e);
      assert.ok(err instanceof ProblemError, String(err));
      assert.equal(err.status, 422);
      assert.match(err.detail ?? "", /content filter/);
    } finally {
      await api.stop();
      refusing.close();
    }
  });

  test("429 carries retryAfter, and is retried within the budget", async () => {
    const noRetry = createProtostarClient({ baseUrl: server.url, apiKey: keys.limits.key, retry: false });
    const outcomes = await Promise.allSettled(Array.from({ length: 60 }, () => noRetry.jobs.list({ limit: 1 })));
    const refused = outcomes.filter((o) => o.status === "rejected").map((o) => (o as PromiseRejectedResult).reason);
    assert.ok(refused.length > 0, "some of 60 requests at once are over the limit of 30");
    for (const err of refused) {
      assert.ok(err instanceof ProblemError);
      assert.equal(err.status, 429);
      assert.ok(err.retryAfter !== undefined && err.retryAfter >= 1, `retryAfter ${err.retryAfter}`);
    }
    await new Promise((r) => setTimeout(r, 2000)); // the bucket refills
    const retrying = createProtostarClient({ baseUrl: server.url, apiKey: keys.limits.key });
    const all = await Promise.all(Array.from({ length: 45 }, () => retrying.jobs.list({ limit: 1 })));
    assert.equal(all.length, 45, "every request succeeds after waiting Retry-After");
  });
});

describe("streams", () => {
  test("an answer streams from its first delta to done", async () => {
    const doc = await readyDocument();
    const kinds: string[] = [];
    let text = "";
    for await (const ev of client.answerStream({ question: "How is the connection pool sized?", filter: { document_ids: [doc.id] } })) {
      kinds.push(ev.event);
      if (ev.event === "delta") text += ev.data.text;
      if (ev.event === "citation") assert.equal(ev.data.document_id, doc.id);
      if (ev.event === "done") assert.equal(typeof ev.data.cached, "boolean");
    }
    assert.equal(kinds[0], "delta");
    assert.equal(kinds.at(-1), "done");
    assert.ok(kinds.includes("citation"));
    assert.ok(text.length > 0);
  });

  test("an answer stream stops when aborted", async () => {
    await readyDocument();
    const ctl = new AbortController();
    const seen: string[] = [];
    const err = await (async () => {
      for await (const ev of client.answerStream({ question: "백업은 언제 실행되나요?" }, { signal: ctl.signal })) {
        seen.push(ev.event);
        ctl.abort();
      }
    })().catch((e: unknown) => e);
    assert.deepEqual(seen, ["delta"], "nothing arrives after the abort");
    assert.ok(err instanceof Error && err.name === "AbortError", String(err));
  });

  test("job events resume with Last-Event-ID after the connection drops", async () => {
    const requests: (string | null)[] = [];
    let dropped = false;
    // Cuts the first event stream right after its first event, as a proxy
    // or a network failure would.
    const dropping = routed(server.url, keys.main.key, async (req, forward) => {
      const res = await forward();
      if (!isEvents(req)) return res;
      requests.push(req.headers.get("Last-Event-ID"));
      if (dropped) return res;
      dropped = true;
      return new Response(cutAfterFirstEvent(res.body!), { status: res.status, headers: res.headers });
    });
    const big = `# Big\n\n${"A paragraph about backups and replicas. ".repeat(20_000)}\n`;
    const { job } = await dropping.uploadDocument({ file: new Blob([big]), key: `big/${rand()}.md` });
    const events: { event: string; id?: string; data: Job }[] = [];
    for await (const ev of dropping.jobEvents(job.id)) events.push(ev);
    assert.ok(requests.length >= 2, `reconnected: ${requests.length} requests`);
    assert.equal(requests[0], null);
    assert.equal(requests[1], events[0]!.id, "the second request resumes after the first event");
    assert.equal(events.at(-1)!.event, "done");
    assert.equal(events.at(-1)!.data.status, "succeeded");
    const ids = events.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, `no state is sent twice: ${ids}`);
  });

  test("job events resume with Last-Event-ID when the server ends the stream", async () => {
    // An API whose streams last 1 s, on a Redis database no worker
    // consumes: its job stays queued, so each stream ends by its lifetime.
    const redis = new URL(process.env.PROTOSTAR_REDIS_URL!);
    redis.pathname = "/15";
    const api = await startProtostar("serve", {
      PROTOSTAR_API_KEYS: keys.env,
      PROTOSTAR_STREAM_MAX_LIFETIME: "1s",
      PROTOSTAR_REDIS_URL: redis.toString(),
    }, "serve-short-streams");
    try {
      const requests: (string | null)[] = [];
      const ctl = new AbortController();
      const c = routed(api.url, keys.other.key, (req, forward) => {
        if (isEvents(req)) {
          requests.push(req.headers.get("Last-Event-ID"));
          if (requests.length === 3) ctl.abort();
        }
        return forward();
      });
      const job = await c.documents.sync();
      const events: { event: string; id?: string }[] = [];
      const err = await (async () => {
        for await (const ev of c.jobEvents(job.id, { signal: ctl.signal })) events.push(ev);
      })().catch((e: unknown) => e);
      assert.ok(err instanceof Error && err.name === "AbortError", String(err));
      assert.equal(events.length, 1, `the unchanged job is sent once over three streams: ${JSON.stringify(events)}`);
      assert.equal(events[0]!.event, "progress");
      assert.deepEqual(requests, [null, events[0]!.id, events[0]!.id]);
    } finally {
      await api.stop();
    }
  });

  test("waitForJob polls when events are unavailable", async () => {
    let polls = 0;
    const noEvents = routed(server.url, keys.main.key, async (req, forward) => {
      if (isEvents(req)) {
        return new Response(JSON.stringify({ status: 503, title: "Service Unavailable", detail: "no streams here" }), {
          status: 503,
          headers: { "Content-Type": "application/problem+json" },
        });
      }
      if (/\/v1\/jobs\/[^/]+$/.test(new URL(req.url).pathname)) polls++;
      return forward();
    });
    const { job } = await noEvents.uploadDocument({ file: new Blob([guide]), key: `poll/${rand()}.md` });
    const done = await noEvents.waitForJob(job.id, { pollIntervalMs: 100, timeoutMs: 60_000 });
    assert.equal(done.status, "succeeded");
    assert.ok(polls >= 1);
  });
});

describe("webhooks", () => {
  test("a delivery's signature verifies, and a tampered one does not", async () => {
    const received = receiver();
    const port = await received.listen();
    const { webhook, secret } = await client.webhooks.create({ url: `http://127.0.0.1:${port}/hooks/protostar`, event_types: ["document.ready"] });
    assert.match(secret, /^whsec_/);
    await client.webhooks.test(webhook.id);
    // Other events of the tenant may arrive too: every delivery must
    // verify, and the test event must be among them.
    let got = await received.next(30_000);
    let event = await verifyWebhook(got.headers, got.body, secret);
    for (let others = 0; event.type !== "webhook.test"; others++) {
      assert.ok(others < 10, `no webhook.test among ${others} deliveries; last: ${got.body}`);
      got = await received.next(30_000);
      event = await verifyWebhook(got.headers, got.body, secret);
    }
    assert.ok(got.headers["webhook-id"]);
    await assert.rejects(verifyWebhook(got.headers, got.body.replace("webhook.test", "webhook.tesT"), secret), WebhookVerificationError);
    await assert.rejects(
      verifyWebhook(got.headers, got.body, secret, { now: Date.now() + 10 * 60_000 }),
      WebhookVerificationError,
      "an old delivery is refused",
    );
    received.close();

    const { deliveries } = await client.webhooks.deliveries(webhook.id);
    const delivery = deliveries.find((d) => d.event_id === got.headers["webhook-id"]);
    assert.ok(delivery, "the delivery is listed by its webhook-id");
    assert.ok(Array.isArray(delivery.attempts));
    const rotated = await client.webhooks.rotateSecret(webhook.id);
    assert.notEqual(rotated.secret, secret);
    const updated = await client.webhooks.update(webhook.id, { enabled: false, description: "paused" });
    assert.equal(updated.enabled, false);
    assert.equal((await client.webhooks.get(webhook.id)).description, "paused");
    await client.webhooks.delete(webhook.id);
    assert.deepEqual(await client.webhooks.list(), []);
  });
});

/** routed is a client whose requests go through route, which may forward them to the server. */
function routed(baseUrl: string, apiKey: string, route: (req: Request, forward: () => Promise<Response>) => Promise<Response>) {
  return createProtostarClient({ baseUrl, apiKey, fetch: (input, init) => route(input as Request, () => fetch(input as Request, init)) });
}

const isEvents = (req: Request) => new URL(req.url).pathname.endsWith("/events");

/** cutAfterFirstEvent passes a stream through its first event, then fails it. */
function cutAfterFirstEvent(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let seen = "";
  return new ReadableStream({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      const text = new TextDecoder().decode(value);
      seen += text;
      const end = seen.indexOf("\n\n", seen.indexOf("event:"));
      if (seen.includes("event:") && end >= 0) {
        controller.enqueue(value);
        await reader.cancel();
        controller.error(new TypeError("terminated"));
        return;
      }
      controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** refusingProvider is an OpenAI-compatible endpoint whose content filter refuses every answer. */
async function refusingProvider(): Promise<{ url: string; close(): void }> {
  const srv = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      const chunk = { id: "c", object: "chat.completion.chunk", created: 0, model: "m", choices: [{ index: 0, delta: {}, finish_reason: "content_filter" }] };
      res.end(`data: ${JSON.stringify(chunk)}\n\ndata: [DONE]\n\n`);
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => srv.listen(port, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${port}`, close: () => srv.close() };
}

/** receiver is a webhook endpoint that keeps what it receives. */
function receiver() {
  const got: { headers: IncomingMessage["headers"]; body: string }[] = [];
  const waiting: ((v: { headers: IncomingMessage["headers"]; body: string }) => void)[] = [];
  const srv = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      res.writeHead(204).end();
      const item = { headers: req.headers, body };
      const w = waiting.shift();
      if (w) w(item);
      else got.push(item);
    });
  });
  return {
    listen: () => new Promise<number>((r) => srv.listen(0, "127.0.0.1", () => r((srv.address() as AddressInfo).port))),
    next: (ms: number) =>
      new Promise<{ headers: IncomingMessage["headers"]; body: string }>((ok, fail) => {
        const item = got.shift();
        if (item) return ok(item);
        const timer = setTimeout(() => fail(new Error(`no webhook delivery within ${ms} ms`)), ms);
        waiting.push((v) => {
          clearTimeout(timer);
          ok(v);
        });
      }),
    close: () => srv.close(),
  };
}

void StreamError;
