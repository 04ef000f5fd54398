/**
 * Prints the run's totals as one plain line that any CI can read: `tests: N passed, M failed, K skipped`.
 * A suite that failed to run (syntax error, failing hook outside a test) counts as a failure.
 */
class TotalsReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const skipped = results.numPendingTests + results.numTodoTests;
    process.stdout.write(`\ntests: ${results.numPassedTests} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
module.exports = TotalsReporter;
