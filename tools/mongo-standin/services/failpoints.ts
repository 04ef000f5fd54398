/**
 * mongod's fail points, as set by `configureFailPoint`: `failCommand` and
 * `failGetMoreAfterCursorCheckout`, with modes 'alwaysOn', 'off', { times }, { skip },
 * { activationProbability }.
 */
import type { Document } from 'bson';
import { ErrorCodes, serverError } from '../errors/server-error';

/** What `failCommand` does to a command it matches (its `data`). */
export interface FailCommandData {
  failCommands: string[];
  errorCode?: number;
  errorLabels?: string[];
  closeConnection?: boolean;
  blockConnection?: boolean;
  blockTimeMS?: number;
  appName?: string;
  writeConcernError?: Document;
}

/** What `failGetMoreAfterCursorCheckout` does (its `data`). */
export interface FailGetMoreData {
  errorCode: number;
}

type Mode =
  | { kind: 'off' }
  | { kind: 'alwaysOn' }
  | { kind: 'times' | 'skip'; n: number }
  | { kind: 'probability'; p: number };

class FailPoint<Data> {
  private mode: Mode = { kind: 'off' };
  private data: Data | undefined;
  /** Times the fail point fired since it was last configured. */
  private entered = 0;

  configure(mode: Mode, data: Data | undefined): number {
    const previous = this.entered;
    this.mode = mode;
    this.data = data;
    this.entered = 0;
    return previous;
  }

  /** The data when the fail point fires for a candidate that `matches`; consumes one activation. */
  evaluate(matches: (data: Data) => boolean): Data | undefined {
    if (this.mode.kind === 'off' || !this.data || !matches(this.data)) return undefined;
    if (!this.consume()) return undefined;
    this.entered++;
    return this.data;
  }

  private consume(): boolean {
    const mode = this.mode;
    switch (mode.kind) {
      case 'alwaysOn':
        return true;
      case 'probability':
        return Math.random() < mode.p;
      case 'times':
        if (--mode.n <= 0) this.mode = { kind: 'off' };
        return true;
      case 'skip':
        if (mode.n > 0) {
          mode.n--;
          return false;
        }
        return true;
      default:
        return false;
    }
  }
}

export class FailPoints {
  private readonly failCommandPoint = new FailPoint<FailCommandData>();
  private readonly failGetMorePoint = new FailPoint<FailGetMoreData>();

  /** Applies a configureFailPoint command; returns how often the fail point fired before. */
  configure(command: Document): number {
    const name = command.configureFailPoint;
    const mode = parseMode(command.mode);
    if (name === 'failCommand') {
      return this.failCommandPoint.configure(
        mode,
        mode.kind === 'off' ? undefined : parseFailCommand(command.data),
      );
    }
    if (name === 'failGetMoreAfterCursorCheckout') {
      return this.failGetMorePoint.configure(
        mode,
        mode.kind === 'off' ? undefined : parseFailGetMore(command.data),
      );
    }
    throw serverError(
      ErrorCodes.BadValue,
      `Cannot find fail point named '${String(name)}' (the stand-in implements failCommand and failGetMoreAfterCursorCheckout)`,
    );
  }

  /** The failCommand action for this command, if the fail point fires for it. */
  failCommand(commandName: string, appName: string | undefined): FailCommandData | undefined {
    return this.failCommandPoint.evaluate(
      (data) =>
        data.failCommands.includes(commandName) && (data.appName === undefined || data.appName === appName),
    );
  }

  /** The error code a getMore answers after checking out its cursor, if the fail point fires. */
  failGetMore(): number | undefined {
    return this.failGetMorePoint.evaluate(() => true)?.errorCode;
  }
}

function parseMode(mode: unknown): Mode {
  if (mode === 'off') return { kind: 'off' };
  if (mode === 'alwaysOn') return { kind: 'alwaysOn' };
  if (mode && typeof mode === 'object') {
    const spec = mode as Document;
    if (isCount(spec.times)) return spec.times > 0 ? { kind: 'times', n: spec.times } : { kind: 'off' };
    if (isCount(spec.skip)) return { kind: 'skip', n: spec.skip };
    if (
      typeof spec.activationProbability === 'number' &&
      spec.activationProbability >= 0 &&
      spec.activationProbability <= 1
    ) {
      return { kind: 'probability', p: spec.activationProbability };
    }
  }
  throw serverError(
    ErrorCodes.BadValue,
    `'mode' must be 'alwaysOn', 'off', { times: n }, { skip: n } or { activationProbability: p }, not ${JSON.stringify(mode)}`,
  );
}

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0;

function parseFailCommand(data: unknown): FailCommandData {
  const spec = (data ?? {}) as Document;
  if (!Array.isArray(spec.failCommands) || !spec.failCommands.every((name) => typeof name === 'string')) {
    throw serverError(
      ErrorCodes.BadValue,
      "failCommand requires 'data.failCommands', an array of command names",
    );
  }
  if (spec.errorCode !== undefined && typeof spec.errorCode !== 'number') {
    throw serverError(ErrorCodes.BadValue, "failCommand 'data.errorCode' must be a number");
  }
  if (spec.blockConnection && typeof spec.blockTimeMS !== 'number') {
    throw serverError(
      ErrorCodes.BadValue,
      "failCommand 'data.blockTimeMS' is required (a number) with blockConnection",
    );
  }
  return spec as FailCommandData;
}

function parseFailGetMore(data: unknown): FailGetMoreData {
  const spec = (data ?? {}) as Document;
  if (typeof spec.errorCode !== 'number') {
    throw serverError(
      ErrorCodes.BadValue,
      "failGetMoreAfterCursorCheckout requires 'data.errorCode', a number",
    );
  }
  return { errorCode: spec.errorCode };
}
