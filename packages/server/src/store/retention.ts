/** Tables retention empties, with their id prefix (ids are `prefix_` + a ULID whose first 10 characters are its time). */
export const RETAINED: readonly (readonly [string, string])[] = [
  ['verifications', 'ver'], ['outbox', 'msg'], ['message_attempts', 'att'], ['events', 'evt'], ['webhook_deliveries', 'whd'],
  ['webhook_attempts', 'wha'], ['rejected_callbacks', 'cb'], ['guard_decisions', 'gdc'],
];
