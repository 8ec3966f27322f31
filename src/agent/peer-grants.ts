/**
 * Which peer agents may pull a snapshot from this one. The manager grants a peer (by its
 * certificate's name, the node id) one snapshot for a while (`authorize_peer`); the grant is used
 * up when that snapshot starts, and the manager withdraws it when the peer's provisioning ends
 * (`revoke_peer`), so a node never keeps a way into another node's data.
 */
export class PeerGrants {
  /** Peer → until when (ms since the epoch). */
  private readonly grants = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Lets `peer` start one snapshot within `ttlSeconds`; returns until when (ms since the epoch). */
  grant(peer: string, ttlSeconds: number): number {
    const until = this.now() + ttlSeconds * 1000;
    this.grants.set(peer, until);
    return until;
  }

  /** True while `peer` holds an unexpired grant. */
  allows(peer: string | null): boolean {
    if (peer === null) return false;
    const until = this.grants.get(peer);
    if (until === undefined) return false;
    if (until <= this.now()) {
      this.grants.delete(peer);
      return false;
    }
    return true;
  }

  /** Uses up `peer`'s grant (its snapshot started). */
  consume(peer: string): void {
    this.grants.delete(peer);
  }

  /** Withdraws `peer`'s grant; true when it held one. */
  revoke(peer: string): boolean {
    return this.grants.delete(peer);
  }
}
