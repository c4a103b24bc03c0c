// Empties the outbox through the link: every kind it holds goes to the handler registered for it (by the part of
// the kind before the first dot: `event.start` → `event`), so no kind can block the others behind it.
import type { EventAcks__Output } from '../../shared/link/generated/guardian/edge/v1/EventAcks.ts';
import type { EventBatch } from '../../shared/link/generated/guardian/edge/v1/EventBatch.ts';
import { type EventJson, toWireEvent } from '../../shared/link/proto.ts';
import type { Logger } from '../../shared/log.ts';
import type { Outbox, OutboxItem } from '../events/outbox.ts';

/** Delivers a batch of items of one family; returns the ids the VM acknowledged. Throws when the link failed. */
export type DeliveryHandler = (items: OutboxItem[]) => Promise<Set<number>>;

/** The link itself failed while delivering: the caller reconnects. */
export class LinkFailure extends Error {
  constructor(readonly cause: Error) {
    super(cause.message);
    this.name = 'LinkFailure';
  }
}

const familyOf = (kind: string): string => kind.split('.', 1)[0] ?? kind;

/**
 * The handler of `event.*` items: one PushEvents call per batch; the VM acknowledges each event on its own (a rejected
 * one is malformed, so retrying cannot help: it is dropped, and said so).
 */
export function eventDelivery(push: (batch: EventBatch) => Promise<EventAcks__Output>, log: Logger): DeliveryHandler {
  return async (items) => {
    const { acks } = await push({
      events: items.map((i) => ({ deliveryId: i.id, kind: i.kind, event: toWireEvent(i.payload as EventJson) })),
    });
    for (const a of acks)
      if (a.status === 'REJECTED')
        log.warn({ event: a.eventId, error: a.error }, 'the VM rejected an event; dropping it');
    return new Set(acks.map((a) => a.deliveryId));
  };
}

export class OutboxDelivery {
  /** Items the VM has acknowledged, all kinds. */
  delivered = 0;
  private readonly handlers = new Map<string, DeliveryHandler>();

  constructor(
    private readonly outbox: Outbox,
    private readonly onUnknownKind: (kind: string) => void = () => undefined,
    private readonly batchSize = 100,
  ) {}

  /** Registers the handler of a family of kinds (`event` for `event.start`, `event.end`, `event.update`). */
  register(family: string, handler: DeliveryHandler): void {
    this.handlers.set(family, handler);
  }

  /**
   * Delivers due items until none is left or a batch makes no progress. Items nobody handles are put back with their
   * backoff (and reported), so they wait without holding back the rest. Throws LinkFailure if the link failed.
   */
  async drain(): Promise<number> {
    let sent = 0;
    for (;;) {
      const items = this.outbox.due(this.batchSize);
      if (!items.length) return sent;
      const byFamily = new Map<string, OutboxItem[]>();
      for (const i of items) {
        const f = familyOf(i.kind);
        byFamily.set(f, [...(byFamily.get(f) ?? []), i]);
      }
      let progress = 0;
      for (const [family, batch] of byFamily) {
        const handler = this.handlers.get(family);
        if (!handler) {
          for (const i of batch) {
            this.outbox.fail(i.id, `no delivery for kind ${i.kind}`);
            this.onUnknownKind(i.kind);
          }
          continue;
        }
        let acked: Set<number>;
        try {
          acked = await handler(batch);
        } catch (err) {
          for (const i of batch) this.outbox.fail(i.id, (err as Error).message);
          throw new LinkFailure(err as Error);
        }
        for (const i of batch) {
          if (acked.has(i.id)) this.outbox.ack(i.id);
          else this.outbox.fail(i.id, 'not acknowledged');
        }
        progress += acked.size;
        this.delivered += acked.size;
      }
      sent += progress;
      // Failed and unhandled items now wait for their backoff, so the next batch holds only what is still due.
      if (progress === 0) return sent;
    }
  }
}
