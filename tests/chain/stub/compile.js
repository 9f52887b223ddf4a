// node compile.js > SymmioStub.json  (solc-js from devnet/node_modules)
const solc = require('../../../devnet/node_modules/solc');
const fs = require('fs');
const input = { language: 'Solidity', sources: { 'SymmioStub.sol': { content: fs.readFileSync(__dirname + '/SymmioStub.sol', 'utf8') } },
  settings: { optimizer: { enabled: true, runs: 200 }, viaIR: true, outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } } };
const out = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of out.errors || []) if (e.severity === 'error') { console.error(e.formattedMessage); process.exit(1); }
const c = out.contracts['SymmioStub.sol'].SymmioStub;
process.stdout.write(JSON.stringify({ abi: c.abi, bytecode: '0x' + c.evm.bytecode.object }));
