import { randomBytes } from 'node:crypto';

// Access tokens of one instance. Looker's API 3/4 login returns an opaque token valid for `expires_in` seconds;
// a token only works on the instance that issued it, logout kills it, and an admin can revoke them all.

export class TokenStore {
  private readonly tokens = new Map<string, number>();

  constructor(private readonly ttlSeconds: number) {}

  issue(nowMs = Date.now()): { access_token: string; token_type: 'Bearer'; expires_in: number } {
    const token = randomBytes(20).toString('hex');
    this.tokens.set(token, nowMs + this.ttlSeconds * 1000);
    return { access_token: token, token_type: 'Bearer', expires_in: this.ttlSeconds };
  }

  isValid(token: string, nowMs = Date.now()): boolean {
    const expiresAt = this.tokens.get(token);
    if (expiresAt === undefined) return false;
    if (expiresAt <= nowMs) {
      this.tokens.delete(token);
      return false;
    }
    return true;
  }

  revoke(token: string): boolean {
    return this.tokens.delete(token);
  }

  revokeAll() {
    this.tokens.clear();
  }
}

/**
 * The token of an `Authorization` header. The SDK sends `Bearer <token>`; Looker's docs spell it `token <token>`;
 * both are accepted, case-insensitively.
 */
export function tokenFromHeader(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^\s*(bearer|token)\s+(\S+)\s*$/i.exec(header);
  return match ? (match[2] as string) : null;
}
