import { WebhookVerificationError } from "./errors.js";
import type { WebhookEvent } from "./types.js";

/** Headers as fetch's Headers, Node's IncomingHttpHeaders (NestJS req.headers) or a plain record. */
export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** How far webhook-timestamp may be from now, in seconds (default 300), against replays. */
  toleranceSeconds?: number;
  /** The current time in ms (tests). */
  now?: number;
}

/**
 * verifyWebhook checks a webhook delivery as the Standard Webhooks 1.0
 * specification says: the HMAC-SHA256 of `${webhook-id}.${webhook-timestamp}.${body}`
 * under the endpoint's secret (whsec_…, as create-webhook returned it)
 * must be one of the v1 signatures in webhook-signature (there are two
 * while a secret rotates), and the timestamp must be recent. Pass the body
 * exactly as received (raw bytes or text, before any JSON parsing). It
 * resolves with the parsed event, or rejects with WebhookVerificationError.
 */
export async function verifyWebhook(
  headers: HeaderSource,
  rawBody: string | Uint8Array,
  secret: string,
  options: VerifyWebhookOptions = {},
): Promise<WebhookEvent> {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header");
  }
  const seconds = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || !Number.isSafeInteger(seconds)) {
    throw new WebhookVerificationError("webhook-timestamp is not a Unix time in seconds");
  }
  const tolerance = options.toleranceSeconds ?? 300;
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(now - seconds) > tolerance) {
    throw new WebhookVerificationError(`webhook-timestamp is more than ${tolerance} s from now`);
  }
  const body = typeof rawBody === "string" ? new TextEncoder().encode(rawBody) : rawBody;
  const expected = await sign(secret, id, timestamp, body);
  const ok = signatures
    .split(" ")
    .map((s) => s.trim())
    .filter((s) => s.startsWith("v1,"))
    .some((s) => constantTimeEqual(base64Bytes(s.slice(3)), expected));
  if (!ok) throw new WebhookVerificationError("no webhook-signature matches the secret");
  try {
    return JSON.parse(new TextDecoder().decode(body)) as WebhookEvent;
  } catch {
    throw new WebhookVerificationError("the webhook body is not JSON");
  }
}

async function sign(secret: string, id: string, timestamp: string, body: Uint8Array): Promise<Uint8Array> {
  const raw = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  const keyBytes = base64Bytes(raw);
  if (keyBytes.length === 0) throw new WebhookVerificationError("the secret is not whsec_ followed by base64");
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const prefix = new TextEncoder().encode(`${id}.${timestamp}.`);
  const content = new Uint8Array(prefix.length + body.length);
  content.set(prefix);
  content.set(body, prefix.length);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, content));
}

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof Headers !== "undefined" && headers instanceof Headers) return headers.get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : record[key];
  return Array.isArray(v) ? v.join(" ") : v;
}

function base64Bytes(s: string): Uint8Array<ArrayBuffer> {
  try {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return new Uint8Array(0);
  }
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
