/**
 * The header the web console sends with every call (ui/src/api.ts). A page of another site
 * cannot send it without a CORS preflight, which the manager never grants: a state-changing call
 * that carries only the session cookie is refused (docs/console.md, "Security").
 */
export const CONSOLE_HEADER = 'x-cps-console';
