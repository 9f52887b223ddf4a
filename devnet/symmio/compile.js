// Standard-JSON compile with solc-js: reads the input JSON on stdin, writes solc's output JSON on stdout.
// Usage: node compile.js < input.json > output.json   (driven by compile.py)
const path = require('path');
const solc = require(path.join(__dirname, '..', 'node_modules', 'solc'));
let data = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { data += c; });
process.stdin.on('end', () => {
  const out = solc.compile(data);
  process.stdout.write(JSON.stringify({ version: solc.version(), output: JSON.parse(out) }));
});
