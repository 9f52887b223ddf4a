// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import "./Storage.sol";

/// Muon TSS (Schnorr over secp256k1, verified with the ecrecover trick) + gateway ECDSA.
library LibMuonCheck {
    uint256 internal constant Q = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    uint256 internal constant HALF_Q = (Q >> 1) + 1;

    function schnorrOk(uint256 pkx, uint8 parity, uint256 s, uint256 msgHash, address nonceAddr)
        internal pure returns (bool)
    {
        require(pkx < HALF_Q, "Public-key x >= HALF_Q");
        require(s < Q, "signature must be reduced modulo Q");
        require(nonceAddr != address(0) && msgHash != 0 && s != 0 && pkx != 0, "no zero inputs allowed");
        uint256 e = uint256(keccak256(abi.encodePacked(pkx, parity, msgHash, nonceAddr)));
        bytes32 sp = bytes32(Q - mulmod(s, pkx, Q));
        bytes32 ep = bytes32(mulmod(e, pkx, Q));
        // ecrecover(m=-s*x, v, r=x, s=e*x) = x^-1 (e*x*PK + s*x*G) = e*PK + s*G
        address computed = ecrecover(sp, parity == 0 ? 27 : 28, bytes32(pkx), ep);
        return computed == nonceAddr;
    }

    function recoverSigner(bytes32 digest, bytes memory sig) internal pure returns (address) {
        require(sig.length == 65, "ECDSA: invalid signature length");
        bytes32 r; bytes32 s; uint8 v;
        assembly {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
            v := byte(0, mload(add(sig, 0x60)))
        }
        require(uint256(s) <= 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0, "ECDSA: invalid signature 's' value");
        address signer = ecrecover(digest, v, r, s);
        require(signer != address(0), "ECDSA: invalid signature");
        return signer;
    }

    function verifyTSSAndGateway(bytes32 hash, SchnorrSign memory sign, bytes memory gatewaySignature) internal view {
        LibStore.Layout storage l = LibStore.layout();
        bool ok = schnorrOk(l.muonPublicKey.x, l.muonPublicKey.parity, sign.signature, uint256(hash), sign.nonce);
        require(ok, "LibMuon: TSS not verified");
        bytes32 eth = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", hash));
        require(recoverSigner(eth, gatewaySignature) == l.validGateway, "LibMuon: Gateway is not valid");
    }

    function checkTime(uint256 timestamp) internal view {
        require(block.timestamp <= timestamp + LibStore.layout().upnlValidTime, "LibMuon: Expired signature");
    }

    function verifyPartyBUpnl(SingleUpnlSig memory sig, address partyB, address partyA) internal view {
        LibStore.Layout storage l = LibStore.layout();
        checkTime(sig.timestamp);
        bytes32 h = keccak256(abi.encodePacked(l.muonAppId, sig.reqId, address(this), partyB, partyA,
            l.partyBNonces[partyB][partyA], sig.upnl, sig.timestamp, block.chainid));
        verifyTSSAndGateway(h, sig.sigs, sig.gatewaySignature);
    }

    function verifyPartyAUpnl(SingleUpnlSig memory sig, address partyA) internal view {
        LibStore.Layout storage l = LibStore.layout();
        checkTime(sig.timestamp);
        bytes32 h = keccak256(abi.encodePacked(l.muonAppId, sig.reqId, address(this), partyA,
            l.partyANonces[partyA], sig.upnl, sig.timestamp, block.chainid));
        verifyTSSAndGateway(h, sig.sigs, sig.gatewaySignature);
    }

    function verifyPartyAUpnlAndPrice(SingleUpnlAndPriceSig memory sig, address partyA, uint256 symbolId) internal view {
        LibStore.Layout storage l = LibStore.layout();
        checkTime(sig.timestamp);
        bytes32 h = keccak256(abi.encodePacked(l.muonAppId, sig.reqId, address(this), partyA,
            l.partyANonces[partyA], sig.upnl, symbolId, sig.price, sig.timestamp, block.chainid));
        verifyTSSAndGateway(h, sig.sigs, sig.gatewaySignature);
    }

    function verifyPairUpnlAndPrice(PairUpnlAndPriceSig memory sig, address partyB, address partyA, uint256 symbolId)
        internal view
    {
        LibStore.Layout storage l = LibStore.layout();
        checkTime(sig.timestamp);
        bytes memory head = abi.encodePacked(l.muonAppId, sig.reqId, address(this), partyB, partyA,
            l.partyBNonces[partyB][partyA], l.partyANonces[partyA]);
        bytes32 h = keccak256(abi.encodePacked(head, sig.upnlPartyB, sig.upnlPartyA, symbolId, sig.price,
            sig.timestamp, block.chainid));
        verifyTSSAndGateway(h, sig.sigs, sig.gatewaySignature);
    }
}
