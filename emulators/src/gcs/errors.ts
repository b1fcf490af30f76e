import type { ServerResponse } from 'node:http';
import { sendJson } from '../http.ts';

// Google's JSON error envelope. The Storage client reads error.code, error.message and error.errors[].reason;
// its retry policy keys off the HTTP status, so every deterministic refusal below is a 4xx.

/** A refusal the real service makes, thrown anywhere in a handler and turned into Google's error JSON. */
export class GcsError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const REASON_BY_STATUS: Record<number, string> = {
  400: 'invalid',
  401: 'required',
  403: 'forbidden',
  404: 'notFound',
  408: 'requestTimeout',
  409: 'conflict',
  412: 'conditionNotMet',
  429: 'rateLimitExceeded',
  500: 'backendError',
  502: 'badGateway',
  503: 'backendError',
  504: 'gatewayTimeout',
};

export function reasonForStatus(status: number): string {
  return REASON_BY_STATUS[status] ?? (status >= 500 ? 'backendError' : 'invalid');
}

export function googleErrorBody(status: number, reason: string, message: string) {
  return { error: { code: status, message, errors: [{ message, domain: 'global', reason }] } };
}

export function sendGcsError(res: ServerResponse, error: GcsError) {
  sendJson(res, error.status, googleErrorBody(error.status, error.reason, error.message));
}

export const bucketNotFound = () => new GcsError(404, 'notFound', 'The specified bucket does not exist.');

export const objectNotFound = (bucket: string, name: string) =>
  new GcsError(404, 'notFound', `No such object: ${bucket}/${name}`);

export const invalidRequest = (message: string) => new GcsError(400, 'invalid', message);
