/** A source of bytes: a Node Readable and a web ReadableStream are both async iterables of chunks. */
export type ByteSource = Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>;

export interface UploadInput {
  /** The Markdown file. Read as it is sent, never held whole in memory. */
  file: ByteSource;
  /** The document's key; by default the file's name. */
  key?: string;
  /** The file name sent in the upload (default: the File's name, else the key's last segment). */
  filename?: string;
  /** Metadata for the document; string values can be used in search filters. */
  metadata?: Record<string, unknown>;
  /** The file's media type (default text/markdown; charset=utf-8). */
  contentType?: string;
}

/**
 * multipartBody builds a multipart/form-data body as a stream: the key and
 * metadata parts, then the file part whose bytes are pulled from the
 * source only as the request is sent.
 */
export function multipartBody(input: UploadInput): { body: ReadableStream<Uint8Array>; contentType: string } {
  const boundary = `protostar-${crypto.randomUUID()}`;
  const enc = new TextEncoder();
  const filename =
    input.filename ??
    (typeof File !== "undefined" && input.file instanceof File ? input.file.name : undefined) ??
    input.key?.split("/").pop() ??
    "document.md";
  let head = "";
  const field = (name: string, value: string) => {
    head += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  };
  if (input.key !== undefined) field("key", input.key);
  if (input.metadata !== undefined) field("metadata", JSON.stringify(input.metadata));
  head +=
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quote(filename)}"\r\n` +
    `Content-Type: ${input.contentType ?? "text/markdown; charset=utf-8"}\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const chunks = (async function* () {
    yield enc.encode(head);
    for await (const chunk of iterate(input.file)) yield typeof chunk === "string" ? enc.encode(chunk) : chunk;
    yield enc.encode(tail);
  })();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await chunks.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await chunks.throw?.(reason).catch(() => undefined);
    },
  });
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

function iterate(src: ByteSource): AsyncIterable<Uint8Array | string> {
  if (typeof Blob !== "undefined" && src instanceof Blob) return src.stream() as unknown as AsyncIterable<Uint8Array>;
  if (Symbol.asyncIterator in src) return src as AsyncIterable<Uint8Array | string>;
  const reader = (src as ReadableStream<Uint8Array>).getReader();
  return {
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          yield value;
        }
      } finally {
        reader.releaseLock();
      }
    },
  };
}

/** quote escapes a file name for a Content-Disposition parameter (RFC 7578: %22 for '"', no line breaks). */
function quote(name: string): string {
  return name.replace(/"/g, "%22").replace(/[\r\n]/g, " ");
}
