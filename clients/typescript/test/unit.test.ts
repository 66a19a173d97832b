// Parts of the client that need no server: webhook verification against
// the Standard Webhooks test vector, the retry policy, the multipart body.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { createProtostarClient, ProblemError, verifyWebhook, WebhookVerificationError } from "../src/index.js";
import { multipartBody } from "../src/upload.js";

describe("verifyWebhook", () => {
  // The test vector of the Standard Webhooks libraries.
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const body = '{"test": 2432232314}';
  const signed = { "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330" };
  const good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
  const now = 1614265330 * 1000;

  const cases: { name: string; headers: Record<string, string>; body?: string; secret?: string; now?: number; ok: boolean }[] = [
    { name: "the vector", headers: { ...signed, "webhook-signature": good }, ok: true },
    { name: "one of two signatures (a rotation)", headers: { ...signed, "webhook-signature": `v1,bm9wZQ== ${good}` }, ok: true },
    { name: "other schemes are ignored", headers: { ...signed, "webhook-signature": good.replace("v1,", "v1a,") }, ok: false },
    { name: "a changed body", headers: { ...signed, "webhook-signature": good }, body: '{"test": 2432232315}', ok: false },
    { name: "another secret", headers: { ...signed, "webhook-signature": good }, secret: "whsec_bm90IHRoZSBzZWNyZXQ=", ok: false },
    { name: "a changed id", headers: { ...signed, "webhook-id": "msg_other", "webhook-signature": good }, ok: false },
    { name: "too old", headers: { ...signed, "webhook-signature": good }, now: now + 301_000, ok: false },
    { name: "from the future", headers: { ...signed, "webhook-signature": good }, now: now - 301_000, ok: false },
    { name: "no signature", headers: { ...signed }, ok: false },
    { name: "header names in any case", headers: { "Webhook-Id": signed["webhook-id"], "WEBHOOK-TIMESTAMP": signed["webhook-timestamp"], "Webhook-Signature": good }, ok: true },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const run = verifyWebhook(c.headers, c.body ?? body, c.secret ?? secret, { now: c.now ?? now });
      if (c.ok) assert.deepEqual(await run, { test: 2432232314 });
      else await assert.rejects(run, WebhookVerificationError);
    });
  }

  test("fetch Headers and raw bytes", async () => {
    const headers = new Headers({ ...signed, "webhook-signature": good });
    assert.deepEqual(await verifyWebhook(headers, new TextEncoder().encode(body), secret, { now }), { test: 2432232314 });
  });
});

describe("retries", () => {
  /** A client over a scripted fetch; it records each request's method. */
  function scripted(answers: (() => Response | Promise<Response>)[], retry?: Parameters<typeof createProtostarClient>[0]["retry"]) {
    const seen: string[] = [];
    const client = createProtostarClient({
      baseUrl: "http://protostar.test",
      apiKey: "k",
      retry: retry === false ? false : { baseDelayMs: 1, ...retry },
      fetch: async (input) => {
        const req = input as Request;
        seen.push(`${req.method} ${await req.text()}`);
        const next = answers.shift();
        if (!next) throw new Error("no more answers");
        return next();
      },
    });
    return { client, seen };
  }
  const problem = (status: number, headers: Record<string, string> = {}) => () =>
    new Response(JSON.stringify({ status, title: "x", detail: `status ${status}` }), {
      status,
      headers: { "Content-Type": "application/problem+json", ...headers },
    });
  const jobs = () => new Response(JSON.stringify({ jobs: [] }), { headers: { "Content-Type": "application/json" } });
  const refused = () => {
    throw Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
  };
  const reset = () => {
    throw Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNRESET" } });
  };

  test("429 and 503 with Retry-After are retried, with the same body", async () => {
    const { client, seen } = scripted([problem(429, { "Retry-After": "0" }), problem(503, { "Retry-After": "0" }), () =>
      new Response(JSON.stringify({ results: [] }), { headers: { "Content-Type": "application/json" } })]);
    assert.deepEqual(await client.search({ query: "q" }), { results: [] });
    assert.deepEqual(seen, Array(3).fill('POST {"query":"q"}'));
  });

  const notRetried: { name: string; answer: () => Response; status: number }[] = [
    { name: "429 without Retry-After", answer: problem(429), status: 429 },
    { name: "503 without Retry-After", answer: problem(503), status: 503 },
    { name: "500", answer: problem(500), status: 500 },
    { name: "400", answer: problem(400), status: 400 },
    { name: "a Retry-After over the limit", answer: problem(429, { "Retry-After": "3600" }), status: 429 },
  ];
  for (const c of notRetried) {
    test(`${c.name} is not retried`, async () => {
      const { client, seen } = scripted([c.answer, jobs]);
      const err = await client.jobs.list().catch((e: unknown) => e);
      assert.ok(err instanceof ProblemError);
      assert.equal(err.status, c.status);
      assert.equal(seen.length, 1);
    });
  }

  test("the budget is bounded", async () => {
    const { client, seen } = scripted(Array(10).fill(problem(429, { "Retry-After": "0" })), { maxRetries: 2 });
    const err = await client.jobs.list().catch((e: unknown) => e);
    assert.ok(err instanceof ProblemError && err.status === 429 && err.retryAfter === 0);
    assert.equal(seen.length, 3);
  });

  test("network errors: GET is retried, POST only when the connection was refused", async () => {
    const get = scripted([reset, jobs]);
    assert.deepEqual(await get.client.jobs.list(), { jobs: [] });
    assert.equal(get.seen.length, 2);

    const post = scripted([reset, jobs]);
    await assert.rejects(post.client.search({ query: "q" }), TypeError);
    assert.equal(post.seen.length, 1);

    const refusedPost = scripted([refused, () => new Response(JSON.stringify({ results: [] }), { headers: { "Content-Type": "application/json" } })]);
    assert.deepEqual(await refusedPost.client.search({ query: "q" }), { results: [] });
    assert.equal(refusedPost.seen.length, 2);
  });

  test("retry: false turns retries off", async () => {
    const { client, seen } = scripted([problem(429, { "Retry-After": "0" }), jobs], false);
    await assert.rejects(client.jobs.list(), ProblemError);
    assert.equal(seen.length, 1);
  });
});

describe("multipartBody", () => {
  test("the server's multipart parser reads its parts", async () => {
    const { body, contentType } = multipartBody({ file: new Blob(["# 제목\n\n본문"]), key: "노트/a.md", metadata: { team: "infra" } });
    const form = await new Response(body, { headers: { "Content-Type": contentType } }).formData();
    assert.equal(form.get("key"), "노트/a.md");
    assert.equal(form.get("metadata"), '{"team":"infra"}');
    const file = form.get("file") as File;
    assert.equal(file.name, "a.md");
    assert.equal(await file.text(), "# 제목\n\n본문");
  });

  test("the source is read only as the body is", async () => {
    let pulled = 0;
    async function* source() {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield new Uint8Array(64 * 1024);
      }
    }
    const { body } = multipartBody({ file: source(), key: "big.md" });
    const reader = body.getReader();
    await reader.read(); // the part headers
    await reader.read(); // the first chunk
    assert.ok(pulled <= 2, `pulled ${pulled} chunks of 1000 for two reads`);
    await reader.cancel();
  });
});

describe("the built package", () => {
  // dist/ is built by npm ci (prepare) or npm run build.
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const cases = [
    { name: "CommonJS (require, as NestJS compiles by default)", args: ["-e", "const c = require('@protostar/client'); console.log(Object.keys(c).sort().join())"] },
    { name: "ES module (import)", args: ["--input-type=module", "-e", "import * as c from '@protostar/client'; console.log(Object.keys(c).sort().join())"] },
  ];
  for (const c of cases) {
    test(`loads as ${c.name}`, () => {
      const out = execFileSync(process.execPath, c.args, { cwd: root, encoding: "utf8" }).trim();
      assert.equal(out, "ProblemError,StreamError,WebhookVerificationError,createProtostarClient,parseRetryAfter,verifyWebhook");
    });
  }
});
