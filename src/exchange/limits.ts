/** Bounds on everything a client can send, shared by validation and the domain. */
export const LIMITS = {
  uidLength: 128,
  msgLength: 4096,
  titleLength: 256,
  /** Serialised `opts.data`. */
  dataBytes: 4096,
  uidsPerMulticast: 10_000,
  channelsPerMessage: 6,
  topicLength: 32,
  linkLength: 2048,
  categoryLength: 64,
  idempotencyKeyLength: 128,
  deviceTokenLength: 4096,
  endpointLength: 2048,
  attributesBytes: 4096,
  idsPerReceipt: 200,
  /** Seconds: 28 days, the longest TTL push services keep a message. */
  maxTtl: 2_419_200,
  /** Seconds: scheduling at most a year ahead. */
  maxDelay: 31_536_000,
  pageLimit: 200,
  defaultPageLimit: 50,
} as const;

/**
 * A uid: printable, no whitespace, no control or format characters (`\p{Cf}`: bidi controls,
 * zero-width spaces and joiners, which would make two uids look alike), bounded (it appears in
 * URLs and bus subjects). Token `sub`s are held to the same pattern.
 */
export const UID_PATTERN = /^[^\s\p{Cc}\p{Cf}]{1,128}$/u;

/** Thread names (POST /api/v1/multicast `thread`, /api/v1/threads/{thread}): letters, digits and . _ ~ : - only, so a name is safe in a path, a uWS topic and a log line as it is. */
export const THREAD_PATTERN = /^[A-Za-z0-9._~:-]{1,128}$/;
