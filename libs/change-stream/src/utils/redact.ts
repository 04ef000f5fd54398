/**
 * The one place that hides credentials from log lines, error messages, /health and /metrics: of the
 * library and of services that use it. MongoDB URIs go through the driver's own redaction
 * (mongodb-connection-string-url, which the driver uses itself); other URIs (redis://, rediss://,
 * kafka://, http://...), text with URIs in it, and option values go through the rules below.
 */
import { redactConnectionString } from 'mongodb-connection-string-url';

/** What a credential inside a URI's user info becomes (the driver's own placeholder). */
export const REDACTED_CREDENTIALS = '<credentials>';
/** What any other secret value becomes. */
export const REDACTED = '<redacted>';

/** A URI with a scheme, up to whitespace, a quote or an angle bracket (how URIs sit in messages). */
const URI_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;
/** The user info of a URI: greedy up to the last '@' of the token, so an unescaped '@' or '/' in a password is covered too. */
const USER_INFO = /^([a-z][a-z0-9+.-]*:\/\/)[^\s"'<>`]*@/i;
/**
 * `name=value` pairs that carry a secret, in a query string or in free text. A value already
 * redacted (starting with '<') is left alone.
 */
const SECRET_PAIR =
  /(^|[?&;,\s(])((?:password|passwd|pass|pwd|passphrase|secret|token|access_?token|api_?key|authMechanismProperties|tlsCertificateKeyFile|tlsCertificateKeyFilePassword|sslPEMKeyFile|sslPEMKeyPassword|sslKey|sslPass|proxyUsername|proxyPassword|sasl\.\w+)=)(?!<)[^&\s"'<>`#,;)]+/gi;
/** Option names (one path segment, without an index) whose value is a credential. */
const SECRET_OPTION =
  /^(?:.*password.*|.*passphrase.*|.*secret.*|.*token.*|pass|pwd|key|cert|pfx|sasl|auth|credentials?|username|authMechanismProperties|tlsCertificateKeyFile|sslPEMKeyFile|sslKey|oauthBearerProvider)$/i;

/**
 * `uri` with its credentials hidden: the user info (user and password) becomes `<credentials>`,
 * and secret query parameters (`password=`, `authMechanismProperties=`, `tlsCertificateKeyFilePassword=`,
 * `tlsCertificateKeyFile=` and the like) become `<redacted>`. Host, port, path and the other
 * parameters stay, so the message still names the server.
 *
 * @example redactUri('redis://:RedisPw@r1:6379/0') // 'redis://<credentials>@r1:6379/0'
 */
export function redactUri(uri: string): string {
  const withoutUserInfo = /^mongodb(\+srv)?:\/\//i.test(uri)
    ? redactConnectionString(uri, { replacementString: REDACTED_CREDENTIALS })
    : uri.replace(USER_INFO, `$1${REDACTED_CREDENTIALS}@`);
  return withoutUserInfo.replace(SECRET_PAIR, `$1$2${REDACTED}`);
}

/**
 * `text` (a log line, an error message from any driver) with the credentials of every URI in it
 * hidden ({@link redactUri}), `password=...`-like pairs outside URIs too, and each of `secrets`
 * (known credential values, such as the passwords of the configured URIs) wherever it appears.
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let redacted = text.replace(URI_IN_TEXT, (uri) => redactUri(uri)).replace(SECRET_PAIR, `$1$2${REDACTED}`);
  for (const secret of secrets) if (secret) redacted = redacted.split(secret).join(REDACTED);
  return redacted;
}

/**
 * Hides the credentials in `error`'s message and stack, in place, before it is thrown on: for
 * errors whose text a driver built from a URI (the mongodb parser quotes the whole of it).
 */
export function redactError(error: unknown): void {
  if (!(error instanceof Error)) return;
  error.message = redactText(error.message);
  if (error.stack) error.stack = redactText(error.stack);
}

/** True when the option at `path` (for example `kafka.sasl.password` or `redis.options.password`) holds a credential. */
export function isSecretOption(path: string): boolean {
  return path.split('.').some((segment) => SECRET_OPTION.test(segment.replace(/\[\d+\]$/, '')));
}

/**
 * A value fit for an error message about the option at `path`: `<redacted>` for a credential
 * option, a string with its URIs redacted, a plain object or array copied with the same rules
 * applied to its entries; anything else (numbers, clients, functions) unchanged.
 */
export function redactOptionValue(path: string, value: unknown, depth = 0): unknown {
  if (value === undefined || value === null) return value;
  if (isSecretOption(path)) return REDACTED;
  if (typeof value === 'string') return redactText(value);
  if (depth >= 8 || typeof value !== 'object') return value;
  if (Array.isArray(value))
    return value.map((item, i) => redactOptionValue(`${path}[${i}]`, item, depth + 1));
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, redactOptionValue(`${path}.${key}`, item, depth + 1)]),
  );
}

/**
 * The credential values inside `uri` (password, secret parameters), decoded and as written:
 * what {@link redactText} should also hide when they appear on their own (a driver quoting only the
 * user name, say). Values shorter than 4 characters are left out: hiding them would garble text.
 */
export function secretsOf(uri: string): string[] {
  const found: string[] = [];
  const userInfo = /^[a-z][a-z0-9+.-]*:\/\/([^\s"'<>`]*)@/i.exec(uri)?.[1];
  const colon = userInfo?.indexOf(':') ?? -1;
  if (userInfo && colon >= 0) found.push(userInfo.slice(colon + 1));
  for (const match of uri.matchAll(SECRET_PAIR))
    found.push(match[0].slice(match[1].length + match[2].length));
  const decoded = found.map((value) => {
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  });
  return [...new Set([...found, ...decoded])].filter((value) => value.length >= 4);
}
