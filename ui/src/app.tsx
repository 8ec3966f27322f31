import { useEffect, useMemo, useState } from 'preact/hooks';
import { call, CallError, logOut, sessionAlive } from './api.js';
import { Actions } from './components/Actions.js';
import { Charts } from './components/Charts.js';
import { Endpoints } from './components/Endpoints.js';
import { Events } from './components/Events.js';
import { Header } from './components/Header.js';
import { Login } from './components/Login.js';
import { Topology } from './components/Topology.js';
import { usePoll } from './poll.js';

/** How often the page reads the service (ms): the console is live within this. */
export const SERVICE_POLL_MS = 1000;
/** How often it reads the 15-minute history (ms). */
export const HISTORY_POLL_MS = 5000;

/** The page: the login form until a session exists, then the console. */
export function App() {
  const [loggedIn, setLoggedIn] = useState<boolean | null>(null);
  useEffect(() => {
    sessionAlive().then(setLoggedIn, () => setLoggedIn(false));
  }, []);
  if (loggedIn === null) return <p class="muted">Loading…</p>;
  if (!loggedIn) return <Login onLoggedIn={() => setLoggedIn(true)} />;
  return <Console onLoggedOut={() => setLoggedIn(false)} />;
}

/** The service, read every second; the history every five. */
function Console({ onLoggedOut }: { onLoggedOut: () => void }) {
  const service = usePoll(() => call('get_service_info', {}), SERVICE_POLL_MS);
  const history = usePoll(() => call('get_performance_history', {}), HISTORY_POLL_MS);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const expired = [service.error, history.error].some((e) => e instanceof CallError && e.code === 'UNAUTHORIZED');
  useEffect(() => {
    if (expired) onLoggedOut();
  }, [expired]);
  const info = service.value;
  const nodes = useMemo(() => history.value?.nodes ?? [], [history.value]);
  return (
    <>
      <header class="top">
        <h1>ConPaaS MySQL</h1>
        <button type="button" onClick={() => void logOut().finally(onLoggedOut)}>
          Log out
        </button>
      </header>
      <main>
        {service.error && !expired ? (
          <p class="error" role="alert">
            The manager does not answer: {service.error.message}
          </p>
        ) : null}
        {info ? (
          <>
            <Header info={info} now={now} lastAnswer={service.at} />
            <div class="columns">
              <Endpoints info={info} />
              <Actions
                info={info}
                changed={() => {
                  service.refresh();
                }}
              />
            </div>
            <Topology info={info} history={nodes} now={now} />
            <Charts nodes={nodes} />
            <Events events={info.events} />
          </>
        ) : (
          <p class="muted">Reading the service…</p>
        )}
      </main>
    </>
  );
}
