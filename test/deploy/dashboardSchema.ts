/**
 * Checks dashboard JSON against the Grafana Foundation SDK's types (Grafana's
 * published schema, generated from its CUE kinds) with the TypeScript
 * compiler: the JSON becomes an object literal typed as a dashboard whose
 * panels are the SDK's panel kinds with their own options and field config,
 * so unknown fields, wrong types and values outside an enum are errors.
 */
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The SDK types as JSON sees them: string enums as their values, no methods, `any` left as is. */
const SCHEMA = `
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import type * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import type * as stat from '@grafana/grafana-foundation-sdk/stat';
import type * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import type * as table from '@grafana/grafana-foundation-sdk/table';
import type * as text from '@grafana/grafana-foundation-sdk/text';
import type * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

type Json<T> = 0 extends 1 & T
  ? any
  : T extends string
    ? \`\${T}\`
    : T extends number | boolean | null | undefined
      ? T
      : T extends readonly (infer U)[]
        ? Json<U>[]
        : { [K in keyof T as T[K] extends (...args: never[]) => unknown ? never : K]: Json<T[K]> };

type FieldConfigSource<Custom> = Omit<Json<dashboard.FieldConfigSource>, 'defaults'> & {
  defaults: Omit<Json<dashboard.FieldConfig>, 'custom'> & { custom?: Json<Custom> };
};

type PanelOf<Type extends string, Options, Custom> = Omit<Json<dashboard.Panel>, 'type' | 'options' | 'fieldConfig' | 'targets'> & {
  type: Type;
  options?: Json<Options>;
  fieldConfig?: FieldConfigSource<Custom>;
  targets?: Json<prometheus.Dataquery>[];
};

type AnyPanel =
  | PanelOf<'timeseries', timeseries.Options, timeseries.FieldConfig>
  | PanelOf<'stat', stat.Options, {}>
  | PanelOf<'table', table.Options, table.FieldConfig>
  | PanelOf<'state-timeline', statetimeline.Options, statetimeline.FieldConfig>
  | PanelOf<'text', text.Options, {}>
  | (Omit<Json<dashboard.RowPanel>, 'panels'> & { panels: AnyPanel[] });

type DashboardJson = Omit<Json<dashboard.Dashboard>, 'panels'> & { panels?: AnyPanel[] };
`;

const parsedFiles = new Map<string, ts.SourceFile | undefined>();

/** Type errors of `json` as a Grafana dashboard (empty: valid), each with the line of the JSON it is on. */
export function dashboardSchemaErrors(json: string): string[] {
  // A file that does not exist, beside the dashboards, so the SDK resolves from the repository's node_modules.
  const file = fileURLToPath(new URL('../../deploy/grafana/__dashboard_check__.ts', import.meta.url));
  const header = `${SCHEMA}\nexport const checked: DashboardJson = `;
  const source = `${header}${json.trimEnd()};\n`;
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  // The SDK's and Node's declaration files are parsed once per test file, not once per check.
  host.getSourceFile = (name, lang, onError) => {
    if (name === file) return ts.createSourceFile(name, source, lang);
    let parsed = parsedFiles.get(name);
    if (!parsed) parsedFiles.set(name, (parsed = getSourceFile(name, lang, onError)));
    return parsed;
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const firstJsonLine = header.split('\n').length;
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return message;
    const line = d.file.getLineAndCharacterOfPosition(d.start).line + 1;
    return line >= firstJsonLine ? `JSON line ${line - firstJsonLine + 1}: ${message}` : `schema line ${line}: ${message}`;
  });
}
