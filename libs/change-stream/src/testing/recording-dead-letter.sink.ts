import { Injectable } from '@nestjs/common';
import { DeadLetterSink, type DeadLetter } from '../worker/dead-letter';

/** The testing kit's DeadLetterSink: keeps the letters in a list. */
@Injectable()
export class RecordingDeadLetterSink extends DeadLetterSink {
  readonly letters: DeadLetter[] = [];

  async send(letter: DeadLetter): Promise<void> {
    this.letters.push(letter);
  }
}
