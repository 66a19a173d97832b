import { parseRetryAfter } from "./errors.js";

/**
 * Which failures are retried, and how much: only 429 and 503 answers that
 * carry Retry-After (the server refused the request without acting on it)
 * and network errors. A network error is retried for idempotent methods,
 * and for others only when the connection was refused (the request never
 * reached the server). Nothing else is retried.
 */
export interface RetryOptions {
  /** Retries after the first attempt (default 3; 0 turns retries off). */
  maxRetries?: number;
  /** A Retry-After longer than this is not waited for: the answer is returned (default 30 s). */
  maxRetryAfterMs?: number;
  /** All the waiting one request may do, in total (default 60 s). */
  budgetMs?: number;
  /** The first wait after a network error, doubled each time with jitter (default 250 ms). */
  baseDelayMs?: number;
}

export type FetchLike = (input: Request, init?: RequestInit) => Promise<Response>;

const idempotent = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

/** What to do about one attempt's outcome: the wait before the next one, or none. */
export function retryDelay(
  opts: Required<RetryOptions>,
  attempt: number,
  waited: number,
  method: string,
  outcome: { response: Response } | { error: unknown },
): number | undefined {
  if (attempt >= opts.maxRetries) return undefined;
  let delay: number | undefined;
  if ("response" in outcome) {
    const { status, headers } = outcome.response;
    if (status !== 429 && status !== 503) return undefined;
    const seconds = parseRetryAfter(headers.get("Retry-After"));
    if (seconds === undefined) return undefined;
    delay = seconds * 1000;
    if (delay > opts.maxRetryAfterMs) return undefined;
  } else {
    if (isAbort(outcome.error)) return undefined;
    if (!idempotent.has(method.toUpperCase()) && networkCode(outcome.error) !== "ECONNREFUSED") return undefined;
    delay = opts.baseDelayMs * 2 ** attempt * (0.5 + Math.random());
  }
  return waited + delay > opts.budgetMs ? undefined : delay;
}

export function retryDefaults(o: RetryOptions | false | undefined): Required<RetryOptions> {
  const base = { maxRetries: 3, maxRetryAfterMs: 30_000, budgetMs: 60_000, baseDelayMs: 250 };
  if (o === false) return { ...base, maxRetries: 0 };
  return { ...base, ...o };
}

/**
 * withRetries wraps fetch with the retry policy. The request is cloned
 * before each attempt, so only requests with a small, replayable body
 * should go through it: uploads use their own loop.
 */
export function withRetries(fetchImpl: FetchLike, options: RetryOptions | false | undefined): FetchLike {
  const opts = retryDefaults(options);
  return async (request, init) => {
    let waited = 0;
    let current = request;
    for (let attempt = 0; ; attempt++) {
      // The next attempt's copy is taken before this one consumes the body.
      const spare = attempt < opts.maxRetries ? current.clone() : undefined;
      let outcome: { response: Response } | { error: unknown };
      try {
        outcome = { response: await fetchImpl(current, init) };
      } catch (error) {
        outcome = { error };
      }
      const delay = spare && retryDelay(opts, attempt, waited, current.method, outcome);
      if (delay === undefined) {
        if ("error" in outcome) throw outcome.error;
        return outcome.response;
      }
      await outcomeBodyDone(outcome);
      await sleep(delay, current.signal);
      waited += delay;
      current = spare!;
    }
  };
}

/** Frees a refused answer's connection before the next attempt. */
async function outcomeBodyDone(outcome: { response: Response } | { error: unknown }): Promise<void> {
  if ("response" in outcome) await outcome.response.body?.cancel().catch(() => undefined);
}

/** sleep waits ms, or rejects with the signal's reason when it aborts. */
export function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}

/** networkCode is the system error code under a fetch failure (undici puts it in cause). */
function networkCode(error: unknown): string | undefined {
  let e: unknown = error;
  for (let i = 0; i < 4 && e && typeof e === "object"; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
