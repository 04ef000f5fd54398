/**
 * Runs the type-level tests of ChangeEvent (libs/.../change-event.interface.spec.ts) through the
 * TypeScript compiler: jest's SWC transform strips types, so without this a regression that let
 * `fullDocument` onto delete events would only show in `npm run typecheck`.
 */
import * as path from 'node:path';
import * as ts from 'typescript';

const root = path.resolve(__dirname, '../..');
const typeTests = path.join(root, 'libs/change-stream/src/events/change-event.interface.spec.ts');

function compile(file: string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(root, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  const program = ts.createProgram([file], { ...config!.options, noEmit: true });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === file)
    .map(
      (d) =>
        `${d.start === undefined ? '' : d.file!.getLineAndCharacterOfPosition(d.start).line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
    );
}

describe('ChangeEvent type-level tests', () => {
  it('compile: every @ts-expect-error line is an error and nothing else is', () => {
    expect(compile(typeTests)).toEqual([]);
  });
});
