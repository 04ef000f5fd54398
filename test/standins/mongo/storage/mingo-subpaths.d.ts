/**
 * mingo publishes its operator groups as package `exports` subpaths, which this repository's
 * `moduleResolution: node` cannot see; this declares the one the stand-in imports.
 */
declare module 'mingo/operators/pipeline' {
  /** Pipeline stage implementations by name (`$match`, `$group`, ...). */
  const operators: Record<string, unknown>;
  export = operators;
}
