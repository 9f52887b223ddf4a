// Standard-JSON driver for solc-js: reads {"sources": {...}, "settings": {...}} on stdin,
// writes solc's JSON output on stdout.
const solc = require("solc");
let input = "";
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  const req = JSON.parse(input);
  const std = { language: "Solidity", sources: req.sources, settings: req.settings };
  const out = solc.compile(JSON.stringify(std));
  process.stdout.write(JSON.stringify({ version: solc.version(), output: JSON.parse(out) }));
});
