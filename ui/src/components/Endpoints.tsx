import { useState } from 'preact/hooks';
import type { ServiceInfo } from '../../../src/protocol/manager-api.js';
import { connectCommand } from '../format.js';

/** Where clients connect: the write endpoint, the read endpoints, the user, and a command to copy. */
export function Endpoints({ info }: { info: ServiceInfo }) {
  const command = connectCommand(info.master, info.user);
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    if (!command) return;
    try {
      await navigator.clipboard.writeText(command);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      // No clipboard (an insecure origin): the command stays selectable.
    }
  };
  return (
    <section aria-labelledby="endpoints-title">
      <h2 id="endpoints-title">Endpoints</h2>
      <dl class="endpoints">
        <dt>writes</dt>
        <dd data-testid="write-endpoint">{info.master ?? 'no master in service'}</dd>
        <dt>reads</dt>
        <dd>{info.slaves.length > 0 ? info.slaves.join(', ') : 'no replica serves reads'}</dd>
        <dt>user</dt>
        <dd>{info.user}</dd>
      </dl>
      {command ? (
        <div class="command">
          <code data-testid="connect-command">{command}</code>
          <button type="button" onClick={() => void copy()}>
            {copied ? 'copied' : 'copy'}
          </button>
        </div>
      ) : null}
    </section>
  );
}
