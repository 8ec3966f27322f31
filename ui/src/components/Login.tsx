import { useState } from 'preact/hooks';
import { CallError, logIn } from '../api.js';

/** Asks for the API token once; the manager answers with a session cookie the page cannot read. */
export function Login({ onLoggedIn }: { onLoggedIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setSending(true);
    setError(null);
    try {
      await logIn(token.trim());
      setToken('');
      onLoggedIn();
    } catch (err) {
      setError(err instanceof CallError && err.code === 'UNAUTHORIZED' ? 'This token is not the API token of this manager.' : `Cannot log in: ${(err as Error).message}`);
    } finally {
      setSending(false);
    }
  };
  return (
    <main class="login">
      <h1>ConPaaS MySQL</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required value={token} onInput={(e) => setToken(e.currentTarget.value)} autofocus />
        <p class="muted">
          In the manager's directory: <code>api-token</code> (the demo prints where).
        </p>
        <button type="submit" class="primary" disabled={sending || token.trim() === ''}>
          Log in
        </button>
        {error ? (
          <p class="error" role="alert" data-testid="login-error">
            {error}
          </p>
        ) : null}
      </form>
    </main>
  );
}
