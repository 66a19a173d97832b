import createClient, { type Client, type Middleware } from "openapi-fetch";

import { ProblemError, StreamError } from "./errors.js";
import { isAbort, retryDefaults, retryDelay, sleep, withRetries, type FetchLike, type RetryOptions } from "./retry.js";
import { readEvents } from "./sse.js";
import type { paths } from "./schema.js";
import type {
  Answer, AnswerEvent, AnswerRequest, ApiKey, Document, DocumentAndJob, Job, JobEvent, ListDocumentsQuery, ListJobsQuery,
  EmbeddingSpace, RequestBody, SearchRequest, Summary, SummaryLength, Tenant, Webhook,
} from "./types.js";
import { multipartBody, type UploadInput } from "./upload.js";

export interface ProtostarClientOptions {
  /** The API's address, e.g. http://127.0.0.1:8080 (no /v1). */
  baseUrl: string;
  /** A tenant key, or a platform key (then name the tenant to act for). */
  apiKey: string;
  /** With a platform key: the tenant to act for (the Protostar-Tenant header). */
  tenant?: string;
  /** fetch to use (default globalThis.fetch), e.g. one with a proxy agent or tracing. */
  fetch?: typeof globalThis.fetch;
  /** Retries of 429/503 with Retry-After and of network errors; false turns them off. */
  retry?: RetryOptions | false;
  /** Headers sent with every request, e.g. a User-Agent. */
  headers?: Record<string, string>;
}

/** Options every call takes. */
export interface CallOptions {
  signal?: AbortSignal;
  /** With a platform key: the tenant this call acts for, instead of the client's. */
  tenant?: string;
  headers?: Record<string, string>;
}

export interface JobEventsOptions extends CallOptions {
  /** Resume after this event (an id a previous stream gave). */
  lastEventId?: string;
  /** Reconnections in a row that may fail before the error is thrown (default 5). */
  maxReconnects?: number;
}

export interface WaitForJobOptions extends CallOptions {
  /** Give up after this long (rejects with a TimeoutError). Default: wait as long as it takes. */
  timeoutMs?: number;
  /** Polling interval once events are unavailable (default 1 s). */
  pollIntervalMs?: number;
}

type Result<T> = Promise<{ data?: T; error?: unknown; response: Response }>;

/**
 * ProtostarClient calls every /v1 endpoint with the document's types.
 * Methods resolve with the answer's body and throw ProblemError for any
 * problem answer; `api` is the underlying typed openapi-fetch client for
 * anything else.
 */
export type ProtostarClient = ReturnType<typeof createProtostarClient>;

/**
 * createProtostarClient builds a client. Every request carries the key
 * (and the tenant, when given); 429 and 503 answers with Retry-After and
 * network errors are retried within a bounded budget (see RetryOptions),
 * and nothing else is retried.
 */
export function createProtostarClient(options: ProtostarClientOptions) {
  const baseFetch: FetchLike = options.fetch
    ? (req, init) => options.fetch!(req, init)
    : (req, init) => globalThis.fetch(req, init);
  const retrying = withRetries(baseFetch, options.retry);
  const api: Client<paths> = createClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ""), fetch: retrying });
  const auth: Middleware = {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${options.apiKey}`);
      if (options.tenant !== undefined && !request.headers.has("Protostar-Tenant")) {
        request.headers.set("Protostar-Tenant", options.tenant);
      }
      for (const [k, v] of Object.entries(options.headers ?? {})) {
        if (!request.headers.has(k)) request.headers.set(k, v); // a call's own headers win
      }
      return request;
    },
  };
  api.use(auth);

  /** call resolves with a success's body, or throws its problem. */
  async function call<T>(pending: Result<T>): Promise<T> {
    const { data, error, response } = await pending;
    if (!response.ok) throw ProblemError.fromResponse(response, error);
    return data as T;
  }
  const init = (o?: CallOptions, extra?: Record<string, string>) => ({
    signal: o?.signal,
    headers: { ...(o?.tenant !== undefined ? { "Protostar-Tenant": o.tenant } : {}), ...o?.headers, ...extra },
  });
  /** The {id} path parameter: a string for most resources, a number for embedding spaces. */
  const path = <Id extends string | number>(id: Id) => ({ params: { path: { id } } });

  const documents = {
    /** Ingests an object already in the bucket (at <tenant>/<key>); 202 with the document and its job. */
    create: (body: RequestBody<"create-document">, o?: CallOptions) =>
      call(api.POST("/v1/documents", { body, ...init(o) })),
    /** Streams a file to the API (see uploadDocument). */
    upload: (input: UploadInput, o?: CallOptions) => uploadDocument(input, o),
    get: (id: string, o?: CallOptions) => call(api.GET("/v1/documents/{id}", { ...path(id), ...init(o) })),
    list: (query?: ListDocumentsQuery, o?: CallOptions) =>
      call(api.GET("/v1/documents", { params: { query }, ...init(o) })),
    /** Lists every document, page by page. */
    async *all(query?: Omit<ListDocumentsQuery, "cursor">, o?: CallOptions): AsyncGenerator<Document> {
      let cursor: string | undefined;
      do {
        const page = await documents.list({ ...query, cursor }, o);
        yield* page.documents;
        cursor = page.next_cursor;
      } while (cursor);
    },
    delete: (id: string, o?: CallOptions) => call(api.DELETE("/v1/documents/{id}", { ...path(id), ...init(o) })),
    reindex: (id: string, o?: CallOptions) =>
      call(api.POST("/v1/documents/{id}/reindex", { ...path(id), ...init(o) })),
    /** Reconciles the tenant's documents with its prefix of the bucket; resolves with the sync job. */
    sync: (o?: CallOptions) => call(api.POST("/v1/sync", { ...init(o) })),
  };

  const jobs = {
    get: (id: string, o?: CallOptions) => call(api.GET("/v1/jobs/{id}", { ...path(id), ...init(o) })),
    list: (query?: ListJobsQuery, o?: CallOptions) =>
      call(api.GET("/v1/jobs", { params: { query }, ...init(o) })),
  };

  const summaries = {
    /** The summary if it exists (cached: true), or the job computing it (status 202). */
    request: (documentId: string, length?: SummaryLength, o?: CallOptions) =>
      call(api.POST("/v1/documents/{id}/summary", { ...path(documentId), body: { length }, ...init(o) })),
    get: (documentId: string, length?: SummaryLength, o?: CallOptions) =>
      call(api.GET("/v1/documents/{id}/summary", { params: { path: { id: documentId }, query: { length } }, ...init(o) })),
    /** Requests a summary and waits for its job if there is one. */
    async summarize(documentId: string, length?: SummaryLength, o?: WaitForJobOptions): Promise<Summary> {
      const got = await summaries.request(documentId, length, o);
      if (!("job" in got)) return got;
      const job = await waitForJob(got.job.id, o);
      if (job.status !== "succeeded") throw new ProblemError({ status: 500, title: "Summary failed", detail: job.error });
      return summaries.get(documentId, length, o);
    },
  };

  const webhooks = {
    create: (body: RequestBody<"create-webhook">, o?: CallOptions) =>
      call(api.POST("/v1/webhooks", { body, ...init(o) })),
    list: (o?: CallOptions) => call(api.GET("/v1/webhooks", { ...init(o) })).then((b) => b!.webhooks as Webhook[]),
    get: (id: string, o?: CallOptions) => call(api.GET("/v1/webhooks/{id}", { ...path(id), ...init(o) })),
    update: (id: string, body: RequestBody<"update-webhook">, o?: CallOptions) =>
      call(api.PATCH("/v1/webhooks/{id}", { ...path(id), body, ...init(o) })),
    delete: (id: string, o?: CallOptions) => call(api.DELETE("/v1/webhooks/{id}", { ...path(id), ...init(o) })),
    rotateSecret: (id: string, o?: CallOptions) =>
      call(api.POST("/v1/webhooks/{id}/rotate-secret", { ...path(id), ...init(o) })),
    /** Sends a webhook.test event; resolves with the delivery's id. */
    test: (id: string, o?: CallOptions) =>
      call(api.POST("/v1/webhooks/{id}/test", { ...path(id), ...init(o) })).then((b) => b!.delivery_id),
    deliveries: (id: string, query?: { limit?: number; cursor?: string }, o?: CallOptions) =>
      call(api.GET("/v1/webhooks/{id}/deliveries", { params: { path: { id }, query }, ...init(o) })),
    retryDelivery: (id: string, deliveryId: string, o?: CallOptions) =>
      call(api.POST("/v1/webhooks/{id}/deliveries/{delivery}/retry", { params: { path: { id, delivery: deliveryId } }, ...init(o) })).then(
        (b) => b!.delivery_id,
      ),
  };

  const tenants = {
    create: (body: RequestBody<"create-tenant">, o?: CallOptions) =>
      call(api.POST("/v1/tenants", { body, ...init(o) })),
    list: (o?: CallOptions) => call(api.GET("/v1/tenants", { ...init(o) })).then((b) => b!.tenants as Tenant[]),
    get: (id: string, o?: CallOptions) => call(api.GET("/v1/tenants/{id}", { ...path(id), ...init(o) })),
    /** Deletes a tenant; resolves with it and the job removing its data. */
    delete: (id: string, o?: CallOptions) =>
      call(api.DELETE("/v1/tenants/{id}", { ...path(id), ...init(o) })),
  };

  const keys = {
    create: (body: RequestBody<"create-key">, o?: CallOptions) =>
      call(api.POST("/v1/keys", { body, ...init(o) })),
    list: (o?: CallOptions) => call(api.GET("/v1/keys", { ...init(o) })).then((b) => b!.keys as ApiKey[]),
    revoke: (id: string, o?: CallOptions) => call(api.DELETE("/v1/keys/{id}", { ...path(id), ...init(o) })),
  };

  /**
   * embeddingSpaces changes the embedding model without downtime (platform
   * keys): create a space, backfill it, activate it, roll back, retire the
   * old one. See docs/embedding-models.md.
   */
  const embeddingSpaces = {
    list: (o?: CallOptions) =>
      call(api.GET("/v1/embedding-spaces", { ...init(o) })).then((b) => b!.spaces as EmbeddingSpace[]),
    /** A space and its coverage per tenant. */
    get: (id: number, o?: CallOptions) => call(api.GET("/v1/embedding-spaces/{id}", { ...path(id), ...init(o) })),
    /** Creates a building space: new ingests write it from now on. */
    create: (body: RequestBody<"create-embedding-space">, o?: CallOptions) =>
      call(api.POST("/v1/embedding-spaces", { body, ...init(o) })),
    /** Starts one backfill job per tenant (or for body.tenant); resolves with the jobs. */
    backfill: (id: number, body: RequestBody<"backfill-embedding-space"> = {}, o?: CallOptions) =>
      call(api.POST("/v1/embedding-spaces/{id}/backfill", { ...path(id), body, ...init(o) })).then((b) => b!.jobs),
    /** Searches the space from now on (all tenants, or body.tenant); 409 below full coverage unless body.force. */
    activate: (id: number, body: RequestBody<"activate-embedding-space"> = {}, o?: CallOptions) =>
      call(api.POST("/v1/embedding-spaces/{id}/activate", { ...path(id), body, ...init(o) })),
    /** Searches the previous space again; resolves with it. */
    rollback: (body: RequestBody<"rollback-embedding-space"> = {}, o?: CallOptions) =>
      call(api.POST("/v1/embedding-spaces/rollback", { body, ...init(o) })),
    /** Retires a space no tenant searches: drops its index and vectors. */
    retire: (id: number, o?: CallOptions) =>
      call(api.DELETE("/v1/embedding-spaces/{id}", { ...path(id), ...init(o) })),
  };

  /** search runs a hybrid (default), vector or keyword search. */
  const search = (body: SearchRequest, o?: CallOptions) =>
    call(api.POST("/v1/search", { body, ...init(o) }));

  /** answer answers a question from the tenant's documents, with citations. */
  const answer = (body: AnswerRequest, o?: CallOptions) =>
    call(api.POST("/v1/answers", { body: { ...body, stream: false }, ...init(o) })) as Promise<Answer>; // JSON, not events

  /**
   * answerStream streams an answer: delta events with its text as it is
   * generated, then its citations, then done. A problem before the first
   * event throws ProblemError, an error event after it StreamError;
   * aborting the signal ends the request and the iteration.
   */
  async function* answerStream(body: AnswerRequest, o?: CallOptions): AsyncGenerator<AnswerEvent> {
    const { data, error, response } = await api.POST("/v1/answers", {
      body: { ...body, stream: true },
      parseAs: "stream",
      ...init(o, { Accept: "text/event-stream" }),
    });
    if (!response.ok || !data) throw ProblemError.fromResponse(response, error);
    for await (const ev of readEvents(data, o?.signal)) {
      if (ev.event === "error") throw new StreamError(parseData<{ detail: string }>(ev.data).detail);
      yield { event: ev.event, data: parseData(ev.data), id: ev.id } as AnswerEvent;
      if (ev.event === "done") return;
    }
    throw new StreamError("the answer stream ended before its done event");
  }

  /**
   * jobEvents yields a job's progress events as it changes and its done
   * event when it ends. When the connection drops or the server ends the
   * stream (its lifetime, a restart), it reconnects with Last-Event-ID
   * after the server's retry delay, so no state is repeated or missed.
   */
  async function* jobEvents(id: string, o?: JobEventsOptions): AsyncGenerator<JobEvent> {
    let last = o?.lastEventId;
    let retryMs = 1000;
    let failures = 0;
    const maxReconnects = o?.maxReconnects ?? 5;
    for (;;) {
      try {
        const { data, error, response } = await api.GET("/v1/jobs/{id}/events", {
          params: { path: { id }, header: last ? { "Last-Event-ID": last } : undefined },
          parseAs: "stream",
          ...init(o, { Accept: "text/event-stream" }),
        });
        if (!response.ok || !data) throw ProblemError.fromResponse(response, error);
        for await (const ev of readEvents(data, o?.signal, (ms) => (retryMs = ms))) {
          if (ev.event === "error") {
            // The server could not read the job's state: reconnect, a few times.
            const detail = parseData<{ detail: string }>(ev.data).detail;
            if (++failures > maxReconnects) throw new StreamError(detail);
            break;
          }
          failures = 0;
          if (ev.id) last = ev.id;
          yield { event: ev.event, data: parseData(ev.data), id: ev.id } as JobEvent;
          if (ev.event === "done") return;
        }
      } catch (err) {
        if (o?.signal?.aborted || isAbort(err) || err instanceof ProblemError || err instanceof StreamError) throw err;
        if (++failures > maxReconnects) throw err;
      }
      await sleep(retryMs * (failures > 0 ? 2 ** (failures - 1) : 1), o?.signal);
    }
  }

  /**
   * waitForJob resolves with the job once it has ended (succeeded, failed
   * or canceled), following its events; when events are unavailable (the
   * tenant's stream limit, a proxy that buffers them, repeated drops) it
   * polls GET /v1/jobs/{id} instead.
   */
  async function waitForJob(id: string, o?: WaitForJobOptions): Promise<Job> {
    const signals = [o?.signal, o?.timeoutMs !== undefined ? AbortSignal.timeout(o.timeoutMs) : undefined].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    const signal = signals.length > 0 ? AbortSignal.any(signals) : undefined;
    try {
      for await (const ev of jobEvents(id, { ...o, signal, maxReconnects: 2 })) {
        if (ev.event === "done") return ev.data;
      }
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof ProblemError && err.status !== 429 && err.status !== 503) throw err;
      // Events are unavailable (too many streams, a buffering proxy, drops): poll.
    }
    for (;;) {
      const job = await jobs.get(id, { ...o, signal });
      if (job.status === "succeeded" || job.status === "failed" || job.status === "canceled") return job;
      await sleep(o?.pollIntervalMs ?? 1000, signal);
    }
  }

  /**
   * uploadDocument streams a file to POST /v1/documents as
   * multipart/form-data without holding it in memory: a Blob (or File), a
   * web ReadableStream or a Node Readable. A Blob is sent again when the
   * server answers 429 or 503 with Retry-After; a stream can be read only
   * once, so its upload is not retried.
   */
  async function uploadDocument(input: UploadInput, o?: CallOptions): Promise<DocumentAndJob> {
    const policy = retryDefaults(options.retry);
    const replayable = typeof Blob !== "undefined" && input.file instanceof Blob;
    let waited = 0;
    for (let attempt = 0; ; attempt++) {
      const { body, contentType } = multipartBody(input);
      const pending = api.POST("/v1/documents", {
        body: body as never,
        bodySerializer: (b: unknown) => b,
        ...init(o, { "Content-Type": contentType }),
        fetch: baseFetch,
        duplex: "half",
      } as never) as Result<DocumentAndJob>;
      const { data, error, response } = await pending;
      if (response.ok) return data!;
      const delay = replayable ? retryDelay(policy, attempt, waited, "POST", { response }) : undefined;
      if (delay === undefined) throw ProblemError.fromResponse(response, error);
      await sleep(delay, o?.signal);
      waited += delay;
    }
  }

  return {
    /** The typed openapi-fetch client: every path and method, with {data, error, response} results. */
    api,
    documents,
    uploadDocument,
    jobs,
    jobEvents,
    waitForJob,
    search,
    answer,
    answerStream,
    summaries,
    webhooks,
    tenants,
    keys,
    embeddingSpaces,
  };
}

function parseData<T>(raw: string): T {
  return JSON.parse(raw) as T;
}
