/**
 * Which threads a user may join (or be added to) by itself: HERALD_THREADS_SELF_JOIN, a list of
 * thread names, each either exact or a prefix ending in `*` (`public.*`). Empty by default: only
 * admins add members. Leaving a thread is always the member's own choice.
 */
export type SelfJoinRule = readonly string[];

export function allowsSelfJoin(rule: SelfJoinRule, thread: string): boolean {
  return rule.some((entry) => (entry.endsWith('*') ? thread.startsWith(entry.slice(0, -1)) : thread === entry));
}
