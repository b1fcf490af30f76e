import { invalidRequest } from './errors.ts';

// multipart/related bodies of `uploadType=multipart` uploads, as the Storage client sends them:
//   --<b>\r\nContent-Type: application/json\r\n\r\n{metadata}\r\n--<b>\r\nContent-Type: <type>\r\n\r\n<bytes>\r\n--<b>--
// Parsed on Buffers (the media part is binary); the boundary is a random UUID, so it cannot occur in the data.

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

function boundaryOf(contentTypeHeader: string | undefined): string {
  const match = /^multipart\/related\s*;(?:.*;)?\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(
    contentTypeHeader ?? '',
  );
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) throw invalidRequest('Multipart upload needs Content-Type: multipart/related; boundary=…');
  return boundary;
}

function splitParts(body: Buffer, boundary: string): MultipartPart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  let position = body.indexOf(delimiter);
  if (position === -1) throw invalidRequest('Multipart body does not contain its boundary.');
  const parts: MultipartPart[] = [];
  for (;;) {
    position += delimiter.length;
    if (body.subarray(position, position + 2).toString() === '--') return parts; // closing delimiter
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), position);
    if (next === -1) throw invalidRequest('Multipart body is not terminated by its closing boundary.');
    parts.push(parsePart(body.subarray(skipLineBreak(body, position), next)));
    position = next + 2;
  }
}

function skipLineBreak(body: Buffer, position: number): number {
  if (body[position] === 0x0d && body[position + 1] === 0x0a) return position + 2;
  if (body[position] === 0x0a) return position + 1;
  return position;
}

function parsePart(part: Buffer): MultipartPart {
  // A part without headers starts with the empty line that ends its (empty) header section.
  if (part[0] === 0x0d && part[1] === 0x0a) return { headers: {}, body: part.subarray(2) };
  const headerEnd = part.indexOf('\r\n\r\n');
  if (headerEnd === -1) return { headers: {}, body: part };
  const headers: Record<string, string> = {};
  for (const line of part.subarray(0, headerEnd).toString('latin1').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body: part.subarray(headerEnd + 4) };
}
