import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CONSOLE_HEADER } from '../protocol/console.js';
import { AppError } from '../util/errors.js';
import { clearedCookie, sessionCookie, type ConsoleSessions } from './console-sessions.js';


/**
 * What the console's pages may load and do: scripts and styles from the manager only (no inline
 * script), calls to the manager only, no framing, no plugins.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Where the bundled console is (dist/ui, made by scripts/build-ui.mjs), next to dist/app. */
export const UI_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'ui');

const FILES: Record<string, { file: string; type: string }> = {
  '/ui/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/ui/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/** What the console's routes need: the sessions (whose cookie is Secure over TLS), how to check a token, and the clock. */
export interface ConsoleDeps {
  /** The live sessions. */
  sessions: ConsoleSessions;
  /** True for the manager's API token (compared in constant time). */
  tokenMatches: (token: string) => boolean;
  /** Now, ms since the epoch. */
  now: () => number;
  /** The bundled console's folder (default UI_DIR). */
  uiDir?: string;
  /** Called once per refused login (the refusal log, which bounds how much it writes). */
  refused?: () => void;
}

/** True for the paths the console serves without the API's credentials (its files, its login, the browser's icon request). */
export function isConsolePath(path: string): boolean {
  return path === '/ui' || path.startsWith('/ui/') || path === '/favicon.ico';
}

function secured(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store');
}

/**
 * Serves the web console on `app`: `/ui/` (the page, its script and its style, read from the
 * bundle once), and `/ui/session` (GET: whether the browser's session is live; POST {token}:
 * opens one, 204 with the cookie, 401 for a wrong token; DELETE: ends it). A missing bundle
 * answers 503 naming the build command. Login and logout need the console header.
 */
export function registerConsole(app: FastifyInstance, deps: ConsoleDeps): void {
  const dir = deps.uiDir ?? UI_DIR;
  const cache = new Map<string, Buffer | null>();
  const load = (file: string): Buffer | null => {
    if (!cache.has(file)) {
      try {
        cache.set(file, readFileSync(join(dir, file)));
      } catch {
        cache.set(file, null);
      }
    }
    return cache.get(file) ?? null;
  };
  app.get('/ui', async (_req, reply) => secured(reply).code(308).header('location', '/ui/').send());
  // Browsers ask for it on every page: no icon, and no refused request in the log.
  app.get('/favicon.ico', async (_req, reply) => secured(reply).code(204).send());
  for (const [path, { file, type }] of Object.entries(FILES)) {
    app.get(path, async (_req, reply) => {
      const body = load(file);
      if (body === null) return secured(reply).code(503).type('text/plain; charset=utf-8').send('the web console is not built: run `npm run build`\n');
      return secured(reply).type(type).send(body);
    });
  }
  app.get('/ui/session', async (req, reply) => secured(reply).type('application/json').send({ loggedIn: deps.sessions.live(req.headers.cookie, deps.now()) }));
  app.post('/ui/session', async (req, reply) => {
    if (req.headers[CONSOLE_HEADER] !== '1') return refuse(reply, 403, new AppError('FORBIDDEN', `the console's login needs the ${CONSOLE_HEADER} header`));
    const token = (req.body as { token?: unknown } | null)?.token;
    if (typeof token !== 'string' || token.length === 0 || token.length > 512) return refuse(reply, 400, new AppError('INVALID_PARAMS', "'token' must be the API token (a string)"));
    if (!deps.tokenMatches(token)) {
      deps.refused?.();
      return refuse(reply, 401, new AppError('UNAUTHORIZED', 'unauthorized: this is not the API token'));
    }
    const id = deps.sessions.begin(deps.now());
    return secured(reply).code(204).header('set-cookie', sessionCookie(id, deps.sessions.secure)).send();
  });
  app.delete('/ui/session', async (req, reply) => {
    if (req.headers[CONSOLE_HEADER] !== '1') return refuse(reply, 403, new AppError('FORBIDDEN', `the console's logout needs the ${CONSOLE_HEADER} header`));
    deps.sessions.end(req.headers.cookie);
    return secured(reply).code(204).header('set-cookie', clearedCookie(deps.sessions.secure)).send();
  });
}

function refuse(reply: FastifyReply, status: number, e: AppError): FastifyReply {
  return secured(reply).code(status).type('application/json').send({ result: null, error: e.message, id: null, code: e.code });
}
