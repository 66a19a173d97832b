import type { components, operations, paths, webhooks } from "./schema.js";

type Schemas = components["schemas"];

export type { components, operations, paths, webhooks };

export type Document = Schemas["Document"];
export type Job = Schemas["Job"];
export type SearchHit = Schemas["SearchHit"];
export type Citation = Schemas["Citation"];
export type Summary = Schemas["SummaryResult"];
export type Webhook = Schemas["Webhook"];
export type Delivery = Schemas["Delivery"];
export type Tenant = Schemas["Tenant"];
export type ApiKey = Schemas["APIKey"];
export type WebhookEvent = Schemas["Event"];
export type EmbeddingSpace = Schemas["EmbeddingSpace"];
export type SpaceCoverage = Schemas["SpaceCoverage"];

/** The body of a request or answer, by operation id. */
type JsonBody<T> = T extends { content: { "application/json": infer B } } ? B : never;
export type RequestBody<Op extends keyof operations> = JsonBody<NonNullable<operations[Op]["requestBody"]>>;
export type ResponseBody<Op extends keyof operations, Status extends keyof operations[Op]["responses"]> = JsonBody<
  operations[Op]["responses"][Status]
>;

export type SearchRequest = RequestBody<"search">;
export type SearchResponse = ResponseBody<"search", 200>;
export type AnswerRequest = Omit<RequestBody<"answer">, "stream">;
export type Answer = Schemas["AnswerResult"];
export type DocumentAndJob = Schemas["DocumentAndJobBody"];
export type ListDocumentsQuery = NonNullable<operations["list-documents"]["parameters"]["query"]>;
export type ListJobsQuery = NonNullable<operations["list-jobs"]["parameters"]["query"]>;
export type SummaryLength = Summary["length"];
export type SummaryJob = Schemas["SummaryJob"];

/** The items of an operation's text/event-stream answer, as the document types them. */
type StreamItem<Op extends keyof operations> = operations[Op]["responses"] extends {
  200: { content: { "text/event-stream": (infer E)[] } };
}
  ? E
  : never;
type EventOf<T> = T extends { event: infer Name; data: infer Data } ? { event: Name; data: Data; id?: string } : never;

/** An event of a streamed answer: delta (its text), citation, then done. */
export type AnswerEvent = Exclude<EventOf<StreamItem<"answer">>, { event: "error" }>;
/** An event of a job's stream: progress whenever the job changes, done when it ends. */
export type JobEvent = Exclude<EventOf<StreamItem<"job-events">>, { event: "error" }>;
