import type { managerApi } from '../../src/protocol/manager-api.js';
import type { ParamsOf, ResultOf } from '../../src/protocol/method.js';

/** The manager's methods, as the CLI calls them (src/protocol/manager-api.ts): one typed contract. */
export type ManagerMethods = typeof managerApi;
/** A method's name. */
export type MethodName = keyof ManagerMethods;

import { CONSOLE_HEADER } from '../../src/protocol/console.js';

/** A refused or failed call: the manager's stable error code and its sentence. */
export class CallError extends Error {
  /**
   * @param code the manager's error code (`WRONG_STATE`, `INVALID_PARAMS`, `UNAUTHORIZED`…), or `NETWORK` when the manager did not answer
   * @param message the manager's sentence, naming the parameter or the state
   */
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let nextId = 1;

/** The methods that change nothing: called with GET; every other is POSTed (the manager refuses GET for them). */
const READS = new Set<MethodName>(['list_nodes', 'get_node_info', 'get_service_info', 'get_service_performance', 'get_performance_history', 'get_password', 'list_users', 'list_hosts']);

/**
 * Calls a manager method with the session cookie (same origin). Answers its result; throws
 * CallError with the manager's code (`UNAUTHORIZED` when the session ended).
 */
export async function call<K extends MethodName>(name: K, params: ParamsOf<ManagerMethods[K]>): Promise<ResultOf<ManagerMethods[K]>> {
  const id = nextId++;
  let res: Response;
  try {
    if (READS.has(name)) {
      const q = new URLSearchParams({ method: name, params: JSON.stringify(params ?? {}), id: String(id) });
      res = await fetch(`/?${q.toString()}`, { headers: { [CONSOLE_HEADER]: '1' }, credentials: 'same-origin' });
    } else {
      res = await fetch('/', {
        method: 'POST',
        headers: { 'content-type': 'application/json', [CONSOLE_HEADER]: '1' },
        body: JSON.stringify({ method: name, params: params ?? {}, id }),
        credentials: 'same-origin',
      });
    }
  } catch {
    throw new CallError('NETWORK', 'the manager does not answer');
  }
  return (await envelope(res)) as ResultOf<ManagerMethods[K]>;
}

/** The result of a ConPaaS envelope, or its error as CallError. */
async function envelope(res: Response): Promise<unknown> {
  let body: { result?: unknown; error?: string | null; code?: string };
  try {
    body = (await res.json()) as typeof body;
  } catch {
    throw new CallError('NETWORK', `the manager answered HTTP ${res.status} without JSON`);
  }
  if (body.error) throw new CallError(body.code ?? 'INTERNAL', body.error);
  if (!res.ok) throw new CallError('INTERNAL', `HTTP ${res.status}`);
  return body.result;
}

/**
 * Uploads a dump for load_dump, reporting the bytes sent (0..1) to `progress`. Answers
 * load_dump's report; throws CallError as `call` does.
 */
export function uploadDump(file: File, progress: (fraction: number) => void): Promise<ResultOf<ManagerMethods['load_dump']>> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append('method', 'load_dump');
    form.append('id', String(nextId++));
    form.append('mysqldump_file', file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/');
    xhr.setRequestHeader(CONSOLE_HEADER, '1');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) progress(e.loaded / e.total);
    };
    xhr.onerror = () => reject(new CallError('NETWORK', 'the upload was cut off'));
    xhr.onload = () => {
      envelope(new Response(xhr.responseText, { status: xhr.status })).then((r) => resolve(r as ResultOf<ManagerMethods['load_dump']>), reject);
    };
    xhr.send(form);
  });
}

/** Whether the browser holds a live session. */
export async function sessionAlive(): Promise<boolean> {
  const res = await fetch('/ui/session', { credentials: 'same-origin' });
  if (!res.ok) return false;
  return ((await res.json()) as { loggedIn?: boolean }).loggedIn === true;
}

/** Opens a session with the API token (sent once, in the body); throws CallError UNAUTHORIZED for a wrong token. */
export async function logIn(token: string): Promise<void> {
  const res = await fetch('/ui/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json', [CONSOLE_HEADER]: '1' },
    body: JSON.stringify({ token }),
    credentials: 'same-origin',
  });
  if (res.status === 204) return;
  await envelope(res);
  throw new CallError('UNAUTHORIZED', 'the token was refused');
}

/** Ends the session. */
export async function logOut(): Promise<void> {
  await fetch('/ui/session', { method: 'DELETE', headers: { [CONSOLE_HEADER]: '1' }, credentials: 'same-origin' });
}
