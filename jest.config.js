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
  roots: ['<rootDir>/libs', '<rootDir>/test', '<rootDir>/src'],
  testRegex: '.*\\.(spec|int-spec|e2e-spec)\\.ts$',
  transform: { '^.+\\.(t|j)s$': ['@swc/jest', swc] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^nest-change-stream/testing$': '<rootDir>/libs/change-stream/src/testing',
    '^nest-change-stream$': '<rootDir>/libs/change-stream/src',
  },
  testTimeout: 60000,
  // Integration specs start real processes (redis-server, the stand-ins); two workers fit the 2-core machines.
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/support/totals-reporter.js'],
};
