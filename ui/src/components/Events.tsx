import type { ServiceEvent } from '../../../src/protocol/manager-api.js';

/** The service's history, newest first: failovers, refusals, additions and removals, switchovers, repairs. */
export function Events({ events }: { events: ServiceEvent[] }) {
  const newest = [...events].reverse();
  return (
    <section aria-labelledby="events-title">
      <h2 id="events-title">Events</h2>
      <ol class="events" data-testid="events">
        {newest.map((e, i) => (
          <li key={`${e.at}-${i}`}>
            <time dateTime={e.at}>{new Date(e.at).toLocaleString()}</time> <span>{e.message}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
