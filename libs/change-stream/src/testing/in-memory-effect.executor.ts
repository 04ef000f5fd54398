import { Injectable } from '@nestjs/common';
import type { ClientSession } from 'mongodb';
import {
  EffectExecutor,
  SharedEffectError,
  type EffectOutcome,
  type SharedEffect,
} from '../idempotency/effect-executor';
import type { ProcessedMarker } from '../idempotency/processed-event.store';
import { createTestingSession } from './testing-session';

/**
 * The testing kit's EffectExecutor: processed markers in memory, so a repeated event is skipped as
 * in production. A failing effect leaves no marker, but nothing rolls back a mock's calls.
 */
@Injectable()
export class InMemoryEffectExecutor extends EffectExecutor {
  private readonly markers = new Set<string>();

  async run(
    marker: ProcessedMarker,
    _transactional: boolean,
    effect: (session: ClientSession) => Promise<unknown>,
  ): Promise<EffectOutcome> {
    const key = `${marker.handlerId}\n${marker.eventId}`;
    if (this.markers.has(key)) return 'duplicate';
    await effect(createTestingSession());
    this.markers.add(key);
    return 'applied';
  }

  async runShared(effects: readonly SharedEffect[]): Promise<void> {
    const keys = effects.flatMap(({ markers }) => markers.map((m) => `${m.handlerId}\n${m.eventId}`));
    const seen = keys.find((key) => this.markers.has(key));
    if (seen !== undefined) throw new Error(`marker ${seen.replace('\n', ' ')} exists`);
    const session = createTestingSession();
    for (let index = 0; index < effects.length; index++) {
      try {
        await effects[index].effect(session);
      } catch (error) {
        throw new SharedEffectError(index, error);
      }
    }
    for (const key of keys) this.markers.add(key);
  }

  async recordDeadLettered(marker: ProcessedMarker): Promise<void> {
    this.markers.add(`${marker.handlerId}\n${marker.eventId}`);
  }

  /** Whether the handler's effect for the event, or its dead letter, is recorded (a repeat is skipped). */
  has(handlerId: string, eventId: string): boolean {
    return this.markers.has(`${handlerId}\n${eventId}`);
  }

  clear(): void {
    this.markers.clear();
  }
}
