// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Storage.sol";

/// Muon verification: Schnorr (ecrecover trick) + gateway ECDSA + expiry, written from the spec.
library LibMuon {
    uint256 internal constant Q = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    uint256 internal constant HALF_Q = (Q >> 1) + 1;
    uint256 internal constant N_HALF = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    function schnorrOk(uint256 h, SchnorrSign memory sig, PublicKey memory pk) internal pure returns (bool) {
        require(pk.x < HALF_Q, "Public-key x >= HALF_Q");
        require(sig.signature < Q, "signature must be reduced modulo Q");
        require(sig.nonce != address(0) && pk.x > 0 && sig.signature > 0 && h > 0, "no zero inputs allowed");
        uint256 e = uint256(keccak256(abi.encodePacked(pk.x, pk.parity, h, sig.nonce)));
        bytes32 msgHash = bytes32(Q - mulmod(pk.x, sig.signature, Q));
        address rec = ecrecover(msgHash, pk.parity == 0 ? 27 : 28, bytes32(pk.x), bytes32(mulmod(e, pk.x, Q)));
        return rec == sig.nonce;
    }

    function recoverSigner(bytes32 digest, bytes memory sig) internal pure returns (address) {
        if (sig.length != 65) return address(0);
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
            v := byte(0, mload(add(sig, 0x60)))
        }
        if (uint256(s) > N_HALF) return address(0);
        return ecrecover(digest, v, r, s);
    }

    function verifyTSSAndGateway(bytes32 hash, SchnorrSign memory sig, bytes memory gatewaySignature) internal view {
        S.Layout storage s = S.l();
        require(schnorrOk(uint256(hash), sig, s.muonPublicKey), "LibMuon: TSS not verified");
        bytes32 digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", hash));
        address signer = recoverSigner(digest, gatewaySignature);
        require(signer != address(0) && signer == s.validGateway, "LibMuon: Gateway is not valid");
    }

    function checkExpiry(uint256 timestamp) internal view {
        require(block.timestamp <= timestamp + S.l().upnlValidTime, "LibMuon: Expired signature");
    }

    function verifyPartyBUpnl(SingleUpnlSig memory sig, address partyB, address partyA) internal view {
        S.Layout storage s = S.l();
        checkExpiry(sig.timestamp);
        bytes32 h = keccak256(
            abi.encodePacked(
                s.muonAppId, sig.reqId, address(this), partyB, partyA, s.partyBNonces[partyB][partyA], sig.upnl,
                sig.timestamp, block.chainid
            )
        );
        verifyTSSAndGateway(h, sig.sigs, sig.gatewaySignature);
    }

    function verifyPartyAUpnl(SingleUpnlSig memory sig, address partyA) internal view {
        S.Layout storage s = S.l();
        checkExpiry(sig.timestamp);
        bytes32 h = keccak256(
            abi.encodePacked(
                s.muonAppId, sig.reqId, address(this), partyA, s.partyANonces[partyA], sig.upnl, sig.timestamp,
                block.chainid
            )
        );
        verifyTSSAndGateway(h, sig.sigs, sig.gatewaySignature);
    }

    function verifyPartyAUpnlAndPrice(SingleUpnlAndPriceSig memory sig, address partyA, uint256 symbolId)
        internal
        view
    {
        S.Layout storage s = S.l();
        checkExpiry(sig.timestamp);
        bytes32 h = keccak256(
            abi.encodePacked(
                s.muonAppId, sig.reqId, address(this), partyA, s.partyANonces[partyA], sig.upnl, symbolId,
                sig.price, sig.timestamp, block.chainid
            )
        );
        verifyTSSAndGateway(h, sig.sigs, sig.gatewaySignature);
    }

    function verifyPairUpnlAndPrice(PairUpnlAndPriceSig memory sig, address partyB, address partyA, uint256 symbolId)
        internal
        view
    {
        S.Layout storage s = S.l();
        checkExpiry(sig.timestamp);
        bytes memory a = abi.encodePacked(
            s.muonAppId, sig.reqId, address(this), partyB, partyA, s.partyBNonces[partyB][partyA],
            s.partyANonces[partyA]
        );
        bytes32 h = keccak256(
            abi.encodePacked(a, sig.upnlPartyB, sig.upnlPartyA, symbolId, sig.price, sig.timestamp, block.chainid)
        );
        verifyTSSAndGateway(h, sig.sigs, sig.gatewaySignature);
    }

    function verifyLiquidationSig(LiquidationSig memory sig, address partyA) internal view {
        S.Layout storage s = S.l();
        require(sig.prices.length == sig.symbolIds.length, "LibMuon: Invalid length");
        bytes memory a = abi.encodePacked(
            s.muonAppId, sig.reqId, sig.liquidationId, address(this), "verifyLiquidationSig", partyA,
            s.partyANonces[partyA]
        );
        bytes32 h = keccak256(
            abi.encodePacked(
                a, sig.upnl, sig.totalUnrealizedLoss, sig.symbolIds, sig.prices, sig.timestamp, block.chainid
            )
        );
        verifyTSSAndGateway(h, sig.sigs, sig.gatewaySignature);
    }

    /// QuotePriceSig (liquidatePositionsPartyB): no expiry check here; the caller bounds the
    /// timestamp by the PartyB liquidation time and `liquidationTimeout`.
    function verifyQuotePrices(QuotePriceSig memory sig) internal view {
        S.Layout storage s = S.l();
        require(sig.prices.length == sig.quoteIds.length, "LibMuon: Invalid length");
        bytes32 h = keccak256(
            abi.encodePacked(
                s.muonAppId, sig.reqId, address(this), sig.quoteIds, sig.prices, sig.timestamp, block.chainid
            )
        );
        verifyTSSAndGateway(h, sig.sigs, sig.gatewaySignature);
    }

    /// PairUpnlSig (chargeFundingRate): upnlPartyB is packed before upnlPartyA.
    function verifyPairUpnl(PairUpnlSig memory sig, address partyB, address partyA) internal view {
        S.Layout storage s = S.l();
        checkExpiry(sig.timestamp);
        bytes32 h = keccak256(
            abi.encodePacked(
                s.muonAppId, sig.reqId, address(this), partyB, partyA, s.partyBNonces[partyB][partyA],
                s.partyANonces[partyA], sig.upnlPartyB, sig.upnlPartyA, sig.timestamp, block.chainid
            )
        );
        verifyTSSAndGateway(h, sig.sigs, sig.gatewaySignature);
    }

    /// HighLowPriceSig (forceClosePosition). The symbol packed is the quote's (`symbolId`
    /// argument), not `sig.symbolId`; the window is packed start, end, lowest, highest, average.
    function verifyHighLowPrice(HighLowPriceSig memory sig, address partyB, address partyA, uint256 symbolId)
        internal
        view
    {
        S.Layout storage s = S.l();
        checkExpiry(sig.timestamp);
        bytes memory a = abi.encodePacked(
            s.muonAppId, sig.reqId, address(this), partyB, partyA, s.partyBNonces[partyB][partyA],
            s.partyANonces[partyA], sig.upnlPartyB, sig.upnlPartyA
        );
        bytes memory b = abi.encodePacked(
            symbolId, sig.currentPrice, sig.startTime, sig.endTime, sig.lowest, sig.highest, sig.averagePrice
        );
        bytes32 h = keccak256(abi.encodePacked(a, b, sig.timestamp, block.chainid));
        verifyTSSAndGateway(h, sig.sigs, sig.gatewaySignature);
    }

    /// SettlementSig (settleUpnl, settleAndForceClosePosition): the literal "verifySettlement",
    /// the current nonce of each quote's PartyB (one per quote, in order), PartyA's nonce, then
    /// (quoteId, currentPrice, uint8 partyBUpnlIndex) per quote, the PartyB upnls and PartyA's.
    function verifySettlement(SettlementSig memory sig, address partyA) internal view {
        S.Layout storage s = S.l();
        checkExpiry(sig.timestamp);
        uint256 n = sig.quotesSettlementsData.length;
        uint256[] memory nonces = new uint256[](n);
        bytes memory rows;
        for (uint256 i = 0; i < n; i++) {
            QuoteSettlementData memory d = sig.quotesSettlementsData[i];
            nonces[i] = s.partyBNonces[s.quotes[d.quoteId].partyB][partyA];
            rows = abi.encodePacked(rows, d.quoteId, d.currentPrice, d.partyBUpnlIndex);
        }
        bytes memory a = abi.encodePacked(
            s.muonAppId, sig.reqId, address(this), "verifySettlement", nonces, s.partyANonces[partyA]
        );
        bytes32 h = keccak256(
            abi.encodePacked(a, rows, sig.upnlPartyBs, sig.upnlPartyA, sig.timestamp, block.chainid)
        );
        verifyTSSAndGateway(h, sig.sigs, sig.gatewaySignature);
    }
}
