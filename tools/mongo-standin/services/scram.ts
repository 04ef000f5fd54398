/**
 * SCRAM-SHA-256 (RFC 5802 / 7677) on the server side, as mongod runs it for `saslStart` /
 * `saslContinue`: users are checked against the passwords the stand-in was started with, and any
 * failure (unknown user, wrong proof) answers AuthenticationFailed (18) "Authentication failed.",
 * mongod's one answer, which tells a client nothing about which part was wrong.
 * NOTE: only the credential check: commands are not refused without authentication (mongod with
 * --auth answers Unauthorized (13) then); tests that need credentials checked use this.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { Binary, type Document } from 'bson';
import { ErrorCodes, serverError } from '../errors/server-error';

const MECHANISM = 'SCRAM-SHA-256';
/** mongod's default scramIterationCount for SCRAM-SHA-256. */
const ITERATIONS = 15_000;

interface UserKeys {
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

interface Conversation {
  user: UserKeys;
  authMessageStart: string;
  nonce: string;
}

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
const authenticationFailed = () => serverError(ErrorCodes.AuthenticationFailed, 'Authentication failed.');

function keysOf(password: string): UserKeys {
  const salt = randomBytes(28);
  const salted = pbkdf2Sync(password, salt, ITERATIONS, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  return {
    salt,
    storedKey: createHash('sha256').update(clientKey).digest(),
    serverKey: hmac(salted, 'Server Key'),
  };
}

/** `a=1,b=2` -> { a: '1', b: '2' } (values may contain '='). */
function fields(text: string): Record<string, string> {
  return Object.fromEntries(text.split(',').map((part) => [part.slice(0, 1), part.slice(2)]));
}

const text = (payload: unknown) =>
  Buffer.from(payload instanceof Binary ? payload.buffer : (payload as Uint8Array)).toString('utf8');

/** The users of one stand-in (`user@db` -> keys) and the conversations in progress, per connection. */
export class ScramAuthenticator {
  private readonly users = new Map<string, UserKeys>();
  private readonly conversations = new Map<number, Conversation>();

  /** `users`: name -> password, all in the `admin` database (the driver's default authSource). */
  constructor(users: Record<string, string> = {}) {
    for (const [name, password] of Object.entries(users)) this.users.set(`admin.${name}`, keysOf(password));
  }

  /** hello's `saslSupportedMechs` for a `saslSupportedMechs: "<db>.<user>"` request (nothing for an unknown user). */
  helloFields(command: Document): Document {
    const asked = command.saslSupportedMechs;
    return typeof asked === 'string' && this.users.has(asked) ? { saslSupportedMechs: [MECHANISM] } : {};
  }

  start(connectionId: number, db: string, command: Document): Document {
    if (command.mechanism !== MECHANISM) {
      throw serverError(
        ErrorCodes.BadValue,
        `Received authentication for mechanism ${command.mechanism} which is unknown or not enabled`,
      );
    }
    const clientFirst = text(command.payload);
    const bare = clientFirst.slice(clientFirst.indexOf(',', clientFirst.indexOf(',') + 1) + 1);
    const { n: name, r: clientNonce } = fields(bare);
    const user = this.users.get(`${db}.${name?.replace(/=2C/g, ',').replace(/=3D/g, '=')}`);
    if (!user || !clientNonce) throw authenticationFailed();
    const nonce = clientNonce + randomBytes(24).toString('base64');
    const serverFirst = `r=${nonce},s=${user.salt.toString('base64')},i=${ITERATIONS}`;
    this.conversations.set(connectionId, { user, nonce, authMessageStart: `${bare},${serverFirst}` });
    return { conversationId: 1, done: false, payload: new Binary(Buffer.from(serverFirst)), ok: 1 };
  }

  continue(connectionId: number, command: Document): Document {
    const conversation = this.conversations.get(connectionId);
    this.conversations.delete(connectionId);
    if (!conversation) throw serverError(ErrorCodes.ProtocolError, 'No SASL session state found');
    const clientFinal = text(command.payload);
    const withoutProof = clientFinal.slice(0, clientFinal.lastIndexOf(',p='));
    const { r: nonce, p: proof } = fields(clientFinal);
    const authMessage = `${conversation.authMessageStart},${withoutProof}`;
    const { storedKey, serverKey } = conversation.user;
    const signature = hmac(storedKey, authMessage);
    const given = Buffer.from(proof ?? '', 'base64');
    if (nonce !== conversation.nonce || given.length !== signature.length) throw authenticationFailed();
    const clientKey = Buffer.from(given.map((byte, i) => byte ^ signature[i]));
    const computed = createHash('sha256').update(clientKey).digest();
    if (!timingSafeEqual(computed, storedKey)) throw authenticationFailed();
    const verifier = `v=${hmac(serverKey, authMessage).toString('base64')}`;
    // The driver asks for skipEmptyExchange: mongod then ends the conversation in this answer.
    return { conversationId: 1, done: true, payload: new Binary(Buffer.from(verifier)), ok: 1 };
  }
}
