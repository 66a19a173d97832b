/**
 * @protostar/client: a typed client of the protostar API. The types are
 * generated from the OpenAPI document the server serves (src/schema.ts,
 * `make openapi`); this layer adds problem errors, bounded retries,
 * streamed answers, resumable job events, streaming uploads and webhook
 * verification.
 */
export { createProtostarClient } from "./client.js";
export type { CallOptions, JobEventsOptions, ProtostarClient, ProtostarClientOptions, WaitForJobOptions } from "./client.js";
export { ProblemError, StreamError, WebhookVerificationError, parseRetryAfter } from "./errors.js";
export type { Problem } from "./errors.js";
export type { RetryOptions } from "./retry.js";
export type { ByteSource, UploadInput } from "./upload.js";
export { verifyWebhook } from "./webhooks.js";
export type { HeaderSource, VerifyWebhookOptions } from "./webhooks.js";
export type * from "./types.js";
