// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

/// Test helper: emits arbitrary raw logs (any topics, any data), so the listener tests can put
/// the real SYMMIO logs from symmio-vectors/logs.json (and deliberately malformed ones) on a
/// real chain, one transaction per original transaction, in the original log order.
contract LogEmitter {
    function emitLogs(bytes32[][] calldata topics, bytes[] calldata data) external {
        require(topics.length == data.length, "length");
        for (uint256 i = 0; i < topics.length; i++) {
            bytes32[] calldata t = topics[i];
            bytes memory d = data[i];
            uint256 n = t.length;
            if (n == 0) {
                assembly { log0(add(d, 32), mload(d)) }
            } else if (n == 1) {
                bytes32 a = t[0];
                assembly { log1(add(d, 32), mload(d), a) }
            } else if (n == 2) {
                bytes32 a = t[0];
                bytes32 b = t[1];
                assembly { log2(add(d, 32), mload(d), a, b) }
            } else if (n == 3) {
                bytes32 a = t[0];
                bytes32 b = t[1];
                bytes32 c = t[2];
                assembly { log3(add(d, 32), mload(d), a, b, c) }
            } else {
                require(n == 4, "topics");
                bytes32 a = t[0];
                bytes32 b = t[1];
                bytes32 c = t[2];
                bytes32 e = t[3];
                assembly { log4(add(d, 32), mload(d), a, b, c, e) }
            }
        }
    }
}
