/** Jest: SWC transform (decorator metadata on), one config for unit, integration and e2e specs. */
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  roots: ['<rootDir>/libs', '<rootDir>/test', '<rootDir>/src', '<rootDir>/tools'],
  testRegex: '.*\\.(spec|int-spec|e2e-spec)\\.ts$',
  transform: { '^.+\\.(t|j)s$': ['@swc/jest', swc] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^nest-change-stream/testing$': '<rootDir>/libs/change-stream/src/testing',
    '^nest-change-stream$': '<rootDir>/libs/change-stream/src',
  },
  testTimeout: 60000,
  // One real Kafka broker for the run, shared by the test files (test/support/jest-kafka.ts).
  globalSetup: '<rootDir>/test/support/jest-global-setup.ts',
  globalTeardown: '<rootDir>/test/support/jest-global-teardown.ts',
  // Integration specs start real processes (redis-server, Kafka, the MongoDB stand-in); two workers fit 2 cores.
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/support/totals-reporter.js'],
};
