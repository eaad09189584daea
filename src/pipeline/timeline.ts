/**
 * Timeline messages (fan-out on read): a broadcast (`everyone`) or a thread message is written
 * once to its timeline (TimelineStore) and every user who sees that timeline finds it in their
 * inbox; live sockets get it from one publish per gateway (a uWS topic for everyone and one per
 * thread). Triage then visits only the recipients who need work of their own (triage.ts).
 */
import { type Bus, subjects, type ThreadFrame } from '../bus/port.js';
import { channelsAddressing } from '../exchange/channel-traits.js';
import type { Message } from '../exchange/types.js';
import { type TimelineId, threadTimeline } from '../store/port.js';
import type { PipelineDeps } from './deps.js';

/** The timeline the message is written to; undefined for messages written to each recipient's inbox. */
export function timelineOf(message: Message): TimelineId | undefined {
  if (message.target.kind === 'everyone') return 'everyone';
  if (message.target.kind === 'thread') return threadTimeline(message.target.thread);
  return undefined;
}

/** Whether the message may go to live sockets at all: a socket channel runs here and the message allows it. */
function socketsInPlay(deps: Pick<PipelineDeps, 'traits' | 'channels'>, message: Message): boolean {
  const [live] = channelsAddressing(deps.traits, 'socket');
  return live !== undefined && deps.channels.has(live) && (message.channels === undefined || message.channels.includes(live));
}

/**
 * Whether the timeline message reaches live sockets by one publish per gateway. Not with a
 * category: users may have switched a category off, so triage plans each member's socket delivery.
 */
export function publishesToSockets(deps: Pick<PipelineDeps, 'traits' | 'channels'>, message: Message): boolean {
  return message.category === undefined && socketsInPlay(deps, message);
}

/**
 * Whether triage must visit every user for a broadcast: only when its socket deliveries are
 * planned per user (a category). Otherwise users who hold no device and no address need nothing
 * of their own, and triage pages only the reachable ones (UserStore.pageReachable).
 */
export function broadcastVisitsEveryone(deps: Pick<PipelineDeps, 'traits' | 'channels'>, message: Message): boolean {
  return message.category !== undefined && socketsInPlay(deps, message);
}

/** Sends a frame to every live socket that sees the message's timeline, posted at `postedAt`: one signal, one publish per gateway. */
export function emitToTimeline(bus: Bus, message: Message, frame: unknown, postedAt: number): void {
  if (message.target.kind === 'everyone') bus.emit(subjects.broadcastFrames, frame);
  else if (message.target.kind === 'thread') {
    bus.emit(subjects.threadFrames, { thread: message.target.thread, frame, at: postedAt } satisfies ThreadFrame);
  }
}
