import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

// HTTP Basic auth for the whole dashboard (page, static assets, API), with the operator's credentials taken from
// the environment and compared in constant time. Non-GET requests must come from the dashboard's own origin:
// browsers send Basic credentials automatically, so without this check another site could post retries.

export interface DashboardCredentials {
  user: string;
  password: string;
}

export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): DashboardCredentials | null {
  const user = env.LSA_DASHBOARD_USER;
  const password = env.LSA_DASHBOARD_PASSWORD;
  if (!user || !password) return null;
  return { user, password };
}

function equalInConstantTime(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  // Compare against itself when lengths differ, so timing does not reveal the length either.
  return timingSafeEqual(left, left.length === right.length ? right : left) && left.length === right.length;
}

export function basicAuth(credentials: DashboardCredentials) {
  return (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization ?? '';
    const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header);
    if (match) {
      const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon >= 0) {
        const userOk = equalInConstantTime(decoded.slice(0, colon), credentials.user);
        const passwordOk = equalInConstantTime(decoded.slice(colon + 1), credentials.password);
        if (userOk && passwordOk) return next();
      }
    }
    res.setHeader('WWW-Authenticate', 'Basic realm="lsa dashboard", charset="UTF-8"');
    res.status(401).type('text/plain').send('Authentication required.');
  };
}

export function sameOriginWrites(req: Request, res: Response, next: NextFunction) {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
  const origin = req.headers.origin ?? req.headers.referer;
  if (origin) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host !== req.headers.host) {
      res.status(403).type('text/plain').send('Cross-origin requests that change state are refused.');
      return;
    }
  }
  next();
}
