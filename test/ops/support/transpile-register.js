// Lets a plain `node` child process run the gateway's TypeScript sources (`node -r <this>
// src/main.ts`), compiled file by file with the repository's tsconfig.json as ts-jest does,
// so end-to-end tests exercise the real entry point without a build step. Compiled files are
// cached by content in the temp directory (TypeScript is loaded only on a miss).
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..', '..');
const cacheDir = path.join(os.tmpdir(), 'tams-transpile-cache');
const tsconfigText = fs.readFileSync(path.join(root, 'tsconfig.json'), 'utf8');
const typescriptVersion = require('typescript/package.json').version;

let compilerOptions;
function compile(source, filename) {
  const ts = require('typescript');
  if (compilerOptions === undefined) {
    const configFile = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile);
    if (configFile.error) throw new Error(ts.flattenDiagnosticMessageText(configFile.error.messageText, '\n'));
    const { options } = ts.parseJsonConfigFileContent(configFile.config, ts.sys, root);
    compilerOptions = { ...options, sourceMap: false, inlineSourceMap: true, inlineSources: true };
  }
  return ts.transpileModule(source, { compilerOptions, fileName: filename }).outputText;
}

require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const key = crypto.createHash('sha256').update(`${typescriptVersion}\0${tsconfigText}\0${filename}\0${source}`).digest('hex');
  const cached = path.join(cacheDir, `${key}.js`);
  let output;
  try {
    output = fs.readFileSync(cached, 'utf8');
  } catch {
    output = compile(source, filename);
    fs.mkdirSync(cacheDir, { recursive: true });
    const temp = `${cached}.${process.pid}.tmp`;
    fs.writeFileSync(temp, output);
    fs.renameSync(temp, cached);
  }
  module._compile(output, filename);
};
