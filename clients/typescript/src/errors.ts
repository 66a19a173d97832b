import type { components } from "./schema.js";

/** An RFC 9457 problem as the API writes it. */
export type Problem = components["schemas"]["ErrorModel"];

/**
 * ProblemError is thrown for every answer that is not a success: the
 * RFC 9457 problem the server wrote (status, title, detail, type,
 * instance and, for schema errors, the failing locations in `errors`),
 * plus `retryAfter` in seconds when the server sent Retry-After (429, 503).
 */
export class ProblemError extends Error {
  override readonly name = "ProblemError";
  readonly status: number;
  readonly title: string;
  readonly detail?: string;
  readonly type: string;
  readonly instance?: string;
  readonly errors?: Problem["errors"];
  /** Seconds the server asked to wait before retrying (Retry-After). */
  readonly retryAfter?: number;
  /** The X-Request-Id of the answer, for logs and bug reports. */
  readonly requestId?: string;

  constructor(problem: Partial<Problem> & { status: number }, init: { retryAfter?: number; requestId?: string } = {}) {
    super(`${problem.status} ${problem.title ?? "Error"}${problem.detail ? `: ${problem.detail}` : ""}`);
    this.status = problem.status;
    this.title = problem.title ?? "Error";
    this.detail = problem.detail;
    this.type = problem.type ?? "about:blank";
    this.instance = problem.instance;
    this.errors = problem.errors;
    this.retryAfter = init.retryAfter;
    this.requestId = init.requestId;
  }

  /** Builds the error of a failed response from its (already read) body. */
  static fromResponse(response: Response, body: unknown): ProblemError {
    const problem: Partial<Problem> =
      body && typeof body === "object" ? (body as Partial<Problem>) : { detail: typeof body === "string" && body ? body : undefined };
    return new ProblemError(
      { ...problem, status: response.status, title: problem.title ?? (response.statusText || `HTTP ${response.status}`) },
      { retryAfter: parseRetryAfter(response.headers.get("Retry-After")), requestId: response.headers.get("X-Request-Id") ?? undefined },
    );
  }
}

/**
 * StreamError is thrown by a stream that the server ended with an `error`
 * event after it had started (a problem before the first event is a
 * ProblemError).
 */
export class StreamError extends Error {
  override readonly name = "StreamError";
  constructor(readonly detail: string) {
    super(detail);
  }
}

/** WebhookVerificationError: a webhook's signature or timestamp is not valid. */
export class WebhookVerificationError extends Error {
  override readonly name = "WebhookVerificationError";
}

/** parseRetryAfter reads Retry-After as seconds (delta-seconds or an HTTP date). */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
