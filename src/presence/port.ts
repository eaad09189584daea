/**
 * Presence port: who has a live realtime socket. A user is online while at least one holder
 * (a gateway process) has touched them within the TTL; sockets refresh it on check-in.
 */
export interface Presence {
  /** Marks `uid` online on `holder` for `ttlMs`. */
  touch(uid: string, holder: string, ttlMs: number): Promise<void>;
  /** The holder's last socket of `uid` closed. */
  leave(uid: string, holder: string): Promise<void>;
  /** The subset of `uids` that are online now. */
  onlineAmong(uids: string[]): Promise<Set<string>>;
  close(): Promise<void>;
}
