import { isSecretOption, redactError, redactOptionValue, redactText, redactUri, secretsOf } from './redact';

const SECRETS = [
  'S3cretPass',
  'RedisPw',
  'admin:',
  'T0ken',
  'KeyPassw0rd',
  '/etc/keys/client.pem',
  'pr0xyPw',
];
const leaked = (text: string) => SECRETS.filter((secret) => text.includes(secret));

describe('redactUri', () => {
  it.each([
    ['mongodb://admin:S3cretPass@db1:27017/shop?replicaSet=rs0', 'db1:27017'],
    [
      'mongodb://admin:S3cretPass@db1:27017,db2:27017/?replicaSet=rs0&authSource=admin',
      'db1:27017,db2:27017',
    ],
    ['mongodb+srv://admin:S3cretPass@cluster0.example.net/shop?retryWrites=true', 'cluster0.example.net'],
    ['mongodb://admin:S3cret%40Pass@db1/?authSource=admin', 'db1'],
    ['mongodb://admin@db1/?authMechanism=MONGODB-X509', 'db1'],
    ['mongodb://db1/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:T0ken', 'db1'],
    [
      'mongodb://db1/?tls=true&tlsCertificateKeyFile=/etc/keys/client.pem&tlsCertificateKeyFilePassword=KeyPassw0rd',
      'db1',
    ],
    ['mongodb://db1/?proxyHost=p1&proxyUsername=admin:&proxyPassword=pr0xyPw', 'db1'],
    ['redis://:RedisPw@r1:6379', 'r1:6379'],
    ['redis://default:RedisPw@r1:6379/0', 'r1:6379/0'],
    ['rediss://admin:RedisPw@r1:6380', 'r1:6380'],
    ['redis://r1:6379/?password=RedisPw&db=2', 'r1:6379'],
    ['redis://r1:6379?password=RedisPw', 'r1:6379'],
  ])('%s keeps the server (%s), hides the credentials', (uri, server) => {
    const redacted = redactUri(uri);
    expect(leaked(redacted)).toEqual([]);
    expect(redacted).toContain(server);
  });

  it('leaves a URI without credentials as it is', () => {
    expect(redactUri('redis://r1:6379/0')).toBe('redis://r1:6379/0');
    expect(redactUri('mongodb://db1:27017/?replicaSet=rs0')).toBe('mongodb://db1:27017/?replicaSet=rs0');
  });

  it('shows where the credentials were', () => {
    expect(redactUri('redis://:RedisPw@r1:6379')).toBe('redis://<credentials>@r1:6379');
    expect(redactUri('mongodb://admin:S3cretPass@db1:27017/?replicaSet=rs0')).toBe(
      'mongodb://<credentials>@db1:27017/?replicaSet=rs0',
    );
  });

  it('covers URIs the parsers refuse: no host, unescaped "@" or "/" in the password', () => {
    for (const uri of [
      'mongodb://admin:S3cretPass@',
      'mongodb://admin:S3cret@Pass@db1',
      'mongodb://admin:S3cret/Pass@db1',
      'redis://:Redis@Pw@r1',
    ]) {
      expect([uri, leaked(redactUri(uri))]).toEqual([uri, []]);
      expect(redactUri(uri)).not.toMatch(/Pass|Pw/);
    }
  });
});

describe('redactText', () => {
  it('hides the credentials of every URI in a message, keeping the rest', () => {
    const text =
      'Protocol and host list are required in "mongodb://admin:S3cretPass@" (Redis: redis://:RedisPw@r1:6379,redis://:RedisPw@r2:6379)';
    const redacted = redactText(text);
    expect(leaked(redacted)).toEqual([]);
    expect(redacted).toContain('Protocol and host list are required in "mongodb://<credentials>@');
    expect(redacted).toContain('r2:6379');
  });

  it('hides password=... pairs outside URIs, and the known secrets given', () => {
    expect(redactText('AUTH failed for password=RedisPw; retrying')).toBe(
      'AUTH failed for password=<redacted>; retrying',
    );
    expect(
      redactText('Username contains unescaped characters admin:S3cretPass', ['S3cretPass']),
    ).not.toContain('S3cretPass');
  });

  it('is idempotent', () => {
    const once = redactText(
      'at redis://:RedisPw@r1:6379?password=RedisPw and mongodb://admin:S3cretPass@db1/',
    );
    expect(redactText(once)).toBe(once);
  });
});

describe('redactError', () => {
  it('hides the credentials in the message and the stack, keeping the error', () => {
    const error = new TypeError('Invalid connection string "mongodb://admin:S3cretPass@db1:x"');
    redactError(error);
    expect(error).toBeInstanceOf(TypeError);
    expect(leaked(`${error.message}\n${error.stack}`)).toEqual([]);
    expect(error.message).toContain('Invalid connection string "mongodb://<credentials>@db1:x');
  });
});

describe('option values', () => {
  it.each([
    'kafka.sasl',
    'kafka.sasl.password',
    'kafka.sasl.username',
    'kafka.sasl.oauthBearerProvider',
    'kafka.ssl.key',
    'kafka.ssl.cert',
    'kafka.ssl.passphrase',
    'kafka.ssl.pfx',
    'redis.options.password',
    'mongo.clientOptions.auth',
    'mongo.clientOptions.tlsCertificateKeyFile',
    'mongo.clientOptions.tlsCertificateKeyFilePassword',
    'mongo.password',
    'streams[0].apiToken',
  ])('%s is a credential', (path) => {
    expect(isSecretOption(path)).toBe(true);
    expect(redactOptionValue(path, 'S3cretPass')).toBe('<redacted>');
  });

  it.each(['lease.keyPrefix', 'kafka.clientId', 'mongo.uri', 'redis.urls[0]', 'streams[1].collection'])(
    '%s is not, and its URIs are redacted',
    (path) => {
      expect(isSecretOption(path)).toBe(false);
      expect(redactOptionValue(path, 'redis://:RedisPw@r1')).toBe('redis://<credentials>@r1');
      expect(redactOptionValue(path, 7)).toBe(7);
    },
  );
});

describe('secretsOf', () => {
  it('lists the passwords and secret parameters of a URI, raw and decoded', () => {
    expect(secretsOf('mongodb://admin:S3cret%40Pass@db1/?tlsCertificateKeyFilePassword=KeyPassw0rd')).toEqual(
      expect.arrayContaining(['S3cret%40Pass', 'S3cret@Pass', 'KeyPassw0rd']),
    );
    expect(secretsOf('redis://:RedisPw@r1')).toEqual(['RedisPw']);
    expect(secretsOf('redis://r1:6379')).toEqual([]);
  });
});
