/**
 * The entity map of a unified test: clients (with command monitoring), databases, collections,
 * sessions, and whatever operations save with `saveResultAsEntity`.
 */
import type { Document } from 'bson';
import {
  MongoClient,
  type ChangeStream,
  type ClientSession,
  type Collection,
  type CommandFailedEvent,
  type CommandStartedEvent,
  type CommandSucceededEvent,
  type Db,
} from 'mongodb';

/** A command monitoring event as the unified format names it. */
export interface ObservedEvent {
  type: 'commandStartedEvent' | 'commandSucceededEvent' | 'commandFailedEvent';
  commandName: string;
  databaseName?: string;
  command?: Document;
  reply?: Document;
}

/** A client entity and the events it observed. */
export interface ClientEntity {
  kind: 'client';
  client: MongoClient;
  events: ObservedEvent[];
}

/** `createEntities` items of the unified format that this runner supports. */
export interface EntityDescription {
  client?: {
    id: string;
    uriOptions?: Record<string, string | number | boolean>;
    observeEvents?: ObservedEvent['type'][];
    ignoreCommandMonitoringEvents?: string[];
    observeSensitiveCommands?: boolean;
    useMultipleMongoses?: boolean;
  };
  database?: { id: string; client: string; databaseName: string; databaseOptions?: Document };
  collection?: { id: string; database: string; collectionName: string; collectionOptions?: Document };
  session?: { id: string; client: string; sessionOptions?: Document };
}

const SENSITIVE_COMMANDS = new Set([
  'authenticate', 'saslstart', 'saslcontinue', 'getnonce', 'createuser', 'updateuser', 'copydbgetnonce', 'copydbsaslstart', 'copydb',
]); // prettier-ignore

export class EntityMap {
  private readonly entities = new Map<string, unknown>();
  /** lsids recorded when sessions are created (the unified format's `$$sessionLsid` outlives endSession). */
  private readonly lsids = new Map<string, Document>();

  constructor(private readonly uri: string) {}

  /** Creates the entities of a test, in order. */
  async create(descriptions: EntityDescription[]): Promise<void> {
    for (const description of descriptions) {
      const [kind, spec] = Object.entries(description)[0] as [keyof EntityDescription, { id: string }];
      if (kind === 'client') await this.createClient(description.client!);
      else if (kind === 'database') {
        const { id, client, databaseName, databaseOptions } = description.database!;
        this.set(id, this.client(client).client.db(databaseName, databaseOptions));
      } else if (kind === 'collection') {
        const { id, database, collectionName, collectionOptions } = description.collection!;
        this.set(id, this.database(database).collection(collectionName, collectionOptions));
      } else if (kind === 'session') {
        const { id, client, sessionOptions } = description.session!;
        const session = this.client(client).client.startSession(sessionOptions);
        this.set(id, session);
        if (session.id) this.lsids.set(id, session.id);
      } else throw new Error(`unsupported entity type '${kind}' (entity ${spec?.id})`);
    }
  }

  set(id: string, value: unknown): void {
    if (this.entities.has(id)) throw new Error(`entity '${id}' already exists`);
    this.entities.set(id, value);
  }

  get(id: string): unknown {
    if (!this.entities.has(id)) throw new Error(`no entity '${id}'`);
    return this.entities.get(id);
  }

  client(id: string): ClientEntity {
    const entity = this.get(id) as ClientEntity;
    if (entity?.kind !== 'client') throw new Error(`entity '${id}' is not a client`);
    return entity;
  }

  database(id: string): Db {
    return this.get(id) as Db;
  }

  collection(id: string): Collection {
    return this.get(id) as Collection;
  }

  session(id: string): ClientSession {
    return this.get(id) as ClientSession;
  }

  /** The lsid document of a session entity. */
  sessionLsid(id: string): Document {
    const lsid = this.lsids.get(id) ?? this.session(id).id;
    if (!lsid) throw new Error(`session '${id}' has no lsid`);
    return lsid;
  }

  /** The driver object of any entity (a client entity's MongoClient). */
  target(id: string): unknown {
    const entity = this.get(id);
    return (entity as ClientEntity)?.kind === 'client' ? (entity as ClientEntity).client : entity;
  }

  /** Ends sessions, closes change streams and cursors, then clients. */
  async close(): Promise<void> {
    const values = [...this.entities.values()];
    this.entities.clear();
    this.lsids.clear();
    const closeQuietly = async (close: () => Promise<unknown> | void) => {
      try {
        await close();
      } catch {
        // NOTE: cleanup after a failed test; the failure itself is already reported.
      }
    };
    for (const value of values) {
      if (isChangeStream(value)) await closeQuietly(() => value.close());
      else if (isSession(value)) await closeQuietly(() => value.endSession());
    }
    for (const value of values) {
      if ((value as ClientEntity)?.kind === 'client')
        await closeQuietly(() => (value as ClientEntity).client.close());
    }
  }

  private async createClient(spec: NonNullable<EntityDescription['client']>): Promise<void> {
    const observe = new Set(spec.observeEvents ?? []);
    // NOTE: the failPoint operation runs configureFailPoint on the test's client; tests never expect it.
    const ignore = new Set([...(spec.ignoreCommandMonitoringEvents ?? []), 'configureFailPoint']);
    const client = new MongoClient(withUriOptions(this.uri, spec.uriOptions), { monitorCommands: true });
    const entity: ClientEntity = { kind: 'client', client, events: [] };
    const record = (type: ObservedEvent['type'], event: ObservedEvent) => {
      if (!observe.has(type) || ignore.has(event.commandName)) return;
      if (!spec.observeSensitiveCommands && isSensitive(event.commandName, event.command)) return;
      entity.events.push(event);
    };
    client.on('commandStarted', (e: CommandStartedEvent) =>
      record('commandStartedEvent', {
        type: 'commandStartedEvent',
        commandName: e.commandName,
        databaseName: e.databaseName,
        command: e.command,
      }),
    );
    client.on('commandSucceeded', (e: CommandSucceededEvent) =>
      record('commandSucceededEvent', {
        type: 'commandSucceededEvent',
        commandName: e.commandName,
        databaseName: e.databaseName,
        reply: e.reply as Document,
      }),
    );
    client.on('commandFailed', (e: CommandFailedEvent) =>
      record('commandFailedEvent', {
        type: 'commandFailedEvent',
        commandName: e.commandName,
        databaseName: e.databaseName,
      }),
    );
    this.set(spec.id, entity);
    await client.connect();
  }
}

/** uriOptions go into the connection string, as the driver's own unified runner does. */
function withUriOptions(uri: string, options: Record<string, string | number | boolean> = {}): string {
  const extra = Object.entries(options).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`);
  if (!extra.length) return uri;
  const base = uri.includes('?') ? uri : uri.includes('/', 'mongodb://'.length) ? `${uri}?` : `${uri}/?`;
  return `${base}${base.endsWith('?') ? '' : '&'}${extra.join('&')}`;
}

function isSensitive(commandName: string, command?: Document): boolean {
  const name = commandName.toLowerCase();
  if (SENSITIVE_COMMANDS.has(name)) return true;
  return (name === 'hello' || name === 'ismaster') && command?.speculativeAuthenticate !== undefined;
}

export function isChangeStream(value: unknown): value is ChangeStream {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ChangeStream).tryNext === 'function' &&
    'resumeToken' in value
  );
}

function isSession(value: unknown): value is ClientSession {
  return (
    typeof value === 'object' && value !== null && typeof (value as ClientSession).endSession === 'function'
  );
}
