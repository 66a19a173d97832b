import { createParser, type EventSourceMessage } from "eventsource-parser";

/** One server-sent event as read off the wire; data is still text. */
export interface RawEvent {
  event: string;
  id?: string;
  data: string;
}

/**
 * readEvents yields the events of a text/event-stream body as they
 * arrive, calls onRetry with the server's reconnection delay, and cancels
 * the body when the caller stops early or signal aborts.
 */
export async function* readEvents(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
  onRetry?: (ms: number) => void,
): AsyncGenerator<RawEvent> {
  const queue: RawEvent[] = [];
  const parser = createParser({
    onEvent(e: EventSourceMessage) {
      queue.push({ event: e.event ?? "message", id: e.id, data: e.data });
    },
    onRetry,
  });
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => undefined);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      signal?.throwIfAborted();
      // At the end, an event cut off by a dropped connection is discarded,
      // as the SSE specification says.
      if (!done) parser.feed(decoder.decode(value, { stream: true }));
      while (queue.length > 0) yield queue.shift()!;
      if (done) return;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
