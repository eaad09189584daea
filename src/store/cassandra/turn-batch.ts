/**
 * Plain writes of one event-loop turn, sent together — the Cassandra counterpart of the
 * embedded stores' group commit (src/sqlite/group-commit.ts). Writes submitted during one turn
 * (for instance a triage's status move and the `sent` receipts of its frames, or the inbox
 * entries of a page of recipients) go out when that turn's callbacks are done (`setImmediate`)
 * as unlogged batches of at most TURN_BATCH_STATEMENTS statements, so a few requests carry
 * what would have been one request each. Guarantees:
 *  - A submission's statements travel in one batch (one request), never split; a submission
 *    larger than the cap goes alone.
 *  - A submission's promise resolves once the batch holding it was applied. A batch that fails
 *    is sent again as one batch per submission, and each settles on its own outcome, so one
 *    caller's bad write never fails another's.
 *  - Only writes that need no condition (no Paxos), no read and no batch-wide timestamp may be
 *    submitted; as any unlogged batch, one is not atomic (a failure may leave part applied), so
 *    they must be idempotent — which every store write sent this way is.
 * The cap keeps a batch below Cassandra's warning thresholds (10 partitions and 5 KiB per
 * unlogged batch by default) for the small rows sent this way.
 */
/** Statements per batch (about as many partitions, at most: Cassandra warns past 10). */
export const TURN_BATCH_STATEMENTS = 10;

interface Submission<S> {
  statements: S[];
  resolve(): void;
  reject(error: unknown): void;
}

/** `send` applies one unlogged batch; the returned function submits a caller's statements to the next turn's batches. */
export function createTurnBatch<S>(send: (statements: S[]) => Promise<void>): (statements: S[]) => Promise<void> {
  let pending: Array<Submission<S>> = [];
  let scheduled = false;

  const sendAlone = (submission: Submission<S>) => send(submission.statements).then(submission.resolve, submission.reject);

  const sendTogether = async (group: Array<Submission<S>>): Promise<void> => {
    if (group.length === 1) return sendAlone(group[0] as Submission<S>);
    try {
      await send(group.flatMap((submission) => submission.statements));
      for (const submission of group) submission.resolve();
    } catch {
      await Promise.all(group.map(sendAlone));
    }
  };

  const flush = (): void => {
    scheduled = false;
    const submissions = pending;
    pending = [];
    let group: Array<Submission<S>> = [];
    let size = 0;
    for (const submission of submissions) {
      if (group.length > 0 && size + submission.statements.length > TURN_BATCH_STATEMENTS) {
        void sendTogether(group);
        group = [];
        size = 0;
      }
      group.push(submission);
      size += submission.statements.length;
    }
    if (group.length > 0) void sendTogether(group);
  };

  return (statements) => {
    if (statements.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      pending.push({ statements, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  };
}
