import { invalidRequest } from './errors.ts';

// multipart/related bodies of `uploadType=multipart` uploads. Two clients, two dialects, both accepted by GCS:
//   Node client: boundary=<uuid>, CRLF line breaks
//     --<b>\r\nContent-Type: application/json\r\n\r\n{metadata}\r\n--<b>\r\nContent-Type: <type>\r\n\r\n<bytes>\r\n--<b>--
//   gcloud (Python's email package): boundary='===============…==' (single-quoted), LF line breaks, extra part
//   headers (MIME-Version, Content-Transfer-Encoding: binary)
//     --<b>\nContent-Type: application/json\nMIME-Version: 1.0\n\n{metadata}\n--<b>\n…\n\n<bytes>\n--<b>--\n
// Parsed on Buffers (the media part is binary). As RFC 2046 says, the line break before a delimiter belongs to the
// delimiter, not to the part: a file ending in "\n" keeps that "\n". The boundary is random, so it cannot occur in
// the data.

export interface MultipartPart {
  headers: Record<string, string>;
  body: Buffer;
}

export interface MultipartUpload {
  /** The JSON metadata part. */
  metadata: Buffer;
  media: Buffer;
  mediaContentType?: string;
}

export function parseMultipartUpload(body: Buffer, contentTypeHeader: string | undefined): MultipartUpload {
  const boundary = boundaryOf(contentTypeHeader);
  const parts = splitParts(body, boundary);
  const [metadata, media] = parts;
  if (parts.length !== 2 || !metadata || !media) {
    throw invalidRequest(`A multipart upload needs exactly 2 parts (metadata, media); got ${parts.length}.`);
  }
  const mediaContentType = media.headers['content-type'];
  return {
    metadata: metadata.body,
    media: media.body,
    ...(mediaContentType === undefined ? {} : { mediaContentType }),
  };
}

/** The boundary parameter, bare, double-quoted (RFC 2045) or single-quoted (gcloud). */
export function boundaryOf(contentTypeHeader: string | undefined): string {
  const match = /^multipart\/related\s*;(?:.*;)?\s*boundary=(?:"([^"]+)"|'([^']+)'|([^;\s]+))/i.exec(
    contentTypeHeader ?? '',
  );
  const boundary = match?.[1] ?? match?.[2] ?? match?.[3];
  if (!boundary) {
    throw invalidRequest(
      `Multipart upload needs Content-Type: multipart/related; boundary=…, not ${JSON.stringify(contentTypeHeader ?? '')}`,
    );
  }
  return boundary;
}

const LF = 0x0a;
const CR = 0x0d;

function splitParts(body: Buffer, boundary: string): MultipartPart[] {
  const dashBoundary = Buffer.from(`--${boundary}`);
  // The first delimiter may open the body or follow a preamble; later ones always follow a line break.
  let position = body.indexOf(dashBoundary);
  if (position === -1) throw invalidRequest('Multipart body does not contain its boundary.');
  const lineAndBoundary = Buffer.concat([Buffer.from('\n'), dashBoundary]);
  const parts: MultipartPart[] = [];
  for (;;) {
    position += dashBoundary.length;
    if (body[position] === 0x2d && body[position + 1] === 0x2d) return parts; // closing delimiter `--<b>--`
    const next = body.indexOf(lineAndBoundary, position);
    if (next === -1) throw invalidRequest('Multipart body is not terminated by its closing boundary.');
    const partEnd = next > position && body[next - 1] === CR ? next - 1 : next;
    parts.push(parsePart(body.subarray(skipLineBreak(body, position), partEnd)));
    position = next + 1;
  }
}

function skipLineBreak(body: Buffer, position: number): number {
  let at = position;
  // Transport padding (spaces, tabs) may follow a delimiter before its line break.
  while (body[at] === 0x20 || body[at] === 0x09) at++;
  if (body[at] === CR && body[at + 1] === LF) return at + 2;
  if (body[at] === LF) return at + 1;
  return position;
}

/** Splits a part at the first empty line (CRLF CRLF or LF LF); a part may have no headers at all. */
function parsePart(part: Buffer): MultipartPart {
  const headerEnd = endOfHeaders(part);
  if (headerEnd === undefined) return { headers: {}, body: part };
  const headers: Record<string, string> = {};
  for (const line of part.subarray(0, headerEnd.headersLength).toString('latin1').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body: part.subarray(headerEnd.bodyStart) };
}

function endOfHeaders(part: Buffer): { headersLength: number; bodyStart: number } | undefined {
  // A part without headers starts with the empty line that ends its (empty) header section.
  if (part[0] === CR && part[1] === LF) return { headersLength: 0, bodyStart: 2 };
  if (part[0] === LF) return { headersLength: 0, bodyStart: 1 };
  for (let i = 0; i < part.length; i++) {
    if (part[i] !== LF) continue;
    if (part[i + 1] === LF) return { headersLength: i, bodyStart: i + 2 };
    if (part[i + 1] === CR && part[i + 2] === LF) return { headersLength: i, bodyStart: i + 3 };
  }
  return undefined;
}
