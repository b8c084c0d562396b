// Several authorizers as one (e.g. an ACL file and the topic table): a PUBLISH or SUBSCRIBE
// is allowed only when every one of them allows it. The strongest refusal wins: 'disconnect'
// from any of them ends the connection even when an earlier one only said 'deny', so every
// authorizer is asked until one says 'disconnect'. canRead exists only when at least one
// part has it, and is true only when every part that has it agrees. With no parts at all,
// everything is allowed (nothing to refuse).
import type { Authorizer, AuthzVerdict, ClientIdentity } from '../../core/ports.js';
import type { QoS } from '../../protocol/types.js';

export class CombinedAuthorizer implements Authorizer {
  readonly #parts: readonly Authorizer[];
  readonly #readers: readonly Authorizer[];
  /** Present only when some part checks reads, so core skips the per-delivery call otherwise. */
  readonly canRead?: (client: ClientIdentity, topic: string) => boolean;

  constructor(parts: readonly Authorizer[]) {
    this.#parts = [...parts];
    this.#readers = parts.filter((p) => p.canRead !== undefined);
    if (this.#readers.length > 0) this.canRead = (client, topic) => this.#canRead(client, topic);
  }

  canPublish(client: ClientIdentity, topic: string, qos: QoS, retain: boolean): AuthzVerdict {
    let verdict: AuthzVerdict = 'allow';
    for (const part of this.#parts) {
      const v = part.canPublish(client, topic, qos, retain);
      if (v === 'disconnect') return v;
      if (v !== 'allow') verdict = 'deny';
    }
    return verdict;
  }

  canSubscribe(client: ClientIdentity, topicFilter: string, qos: QoS): AuthzVerdict {
    let verdict: AuthzVerdict = 'allow';
    for (const part of this.#parts) {
      const v = part.canSubscribe(client, topicFilter, qos);
      if (v === 'disconnect') return v;
      if (v !== 'allow') verdict = 'deny';
    }
    return verdict;
  }

  #canRead(client: ClientIdentity, topic: string): boolean {
    for (const part of this.#readers) {
      if (!(part.canRead as NonNullable<Authorizer['canRead']>).call(part, client, topic)) return false;
    }
    return true;
  }
}
