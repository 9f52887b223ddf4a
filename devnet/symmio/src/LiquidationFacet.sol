// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import "./Base.sol";

struct LiquidationSig {
    bytes reqId;
    uint256 timestamp;
    bytes liquidationId;
    int256 upnl;
    int256 totalUnrealizedLoss;
    uint256[] symbolIds;
    uint256[] prices;
    bytes gatewaySignature;
    SchnorrSign sigs;
}

/// Liquidation bookkeeping (separate fixed slot).
library LibLiquidationStore {
    bytes32 internal constant SLOT = keccak256("symmio-hedger.devnet.symmio.liquidation.v1");

    struct Layout {
        mapping(address => bytes) liquidationId;
        mapping(address => mapping(uint256 => uint256)) symbolPrice; // partyA => symbolId => price
        mapping(address => mapping(address => int256)) settlement; // partyA => partyB => amount owed to partyB
        mapping(address => address[]) involvedPartyBs;
        mapping(address => mapping(address => bool)) involved;
    }

    function layout() internal pure returns (Layout storage l) {
        bytes32 slot = SLOT;
        assembly { l.slot := slot }
    }
}

/// PartyA liquidation of 0.8.4 (same selectors and events), simplified economics:
/// liquidatePartyA verifies the LiquidationSig for real (Schnorr + gateway over the packed hash with the
/// "verifyLiquidationSig" literal) but does not check its age; positions are closed at the signed
/// symbol price; PartyA's loss is settled to PartyBs from its allocated balance, pro rata if short;
/// no liquidator fee and no dispute window.
contract LiquidationFacet is FacetBase {
    event LiquidatePartyA(address liquidator, address partyA, uint256 allocatedBalance, int256 upnl,
        int256 totalUnrealizedLoss, bytes liquidationId);
    event LiquidatePartyA(address liquidator, address partyA, uint256 allocatedBalance, int256 upnl,
        int256 totalUnrealizedLoss);
    event LiquidatePendingPositionsPartyA(address liquidator, address partyA, uint256[] quoteIds,
        uint256[] liquidatedAmounts, bytes liquidationId);
    event LiquidatePendingPositionsPartyA(address liquidator, address partyA);
    event LiquidatePositionsPartyA(address liquidator, address partyA, uint256[] quoteIds, uint256[] liquidatedAmounts,
        uint256[] closeIds, bytes liquidationId);
    event LiquidatePositionsPartyA(address liquidator, address partyA, uint256[] quoteIds);
    event SettlePartyALiquidation(address partyA, address[] partyBs, int256[] amounts, bytes liquidationId);
    event SettlePartyALiquidation(address partyA, address[] partyBs, int256[] amounts);
    event FullyLiquidatedPartyA(address partyA, bytes liquidationId);
    event FullyLiquidatedPartyA(address partyA);

    function _verifyLiquidationSig(LiquidationSig memory sig, address partyA) internal view {
        LibStore.Layout storage l = LibStore.layout();
        require(sig.prices.length == sig.symbolIds.length, "LibMuon: Invalid length");
        bytes memory head = abi.encodePacked(l.muonAppId, sig.reqId, sig.liquidationId, address(this),
            "verifyLiquidationSig", partyA, l.partyANonces[partyA]);
        bytes32 h = keccak256(abi.encodePacked(head, sig.upnl, sig.totalUnrealizedLoss, sig.symbolIds, sig.prices,
            sig.timestamp, block.chainid));
        LibMuonCheck.verifyTSSAndGateway(h, sig.sigs, sig.gatewaySignature);
    }

    function liquidatePartyA(address partyA, LiquidationSig memory liquidationSig)
        external onlyRole(LibStore.LIQUIDATOR_ROLE)
    {
        LibStore.Layout storage l = LibStore.layout();
        require(!l.liquidationStatus[partyA], "LiquidationFacet: PartyA is already liquidated");
        _verifyLiquidationSig(liquidationSig, partyA);
        LockedValues memory lk = l.lockedBalances[partyA];
        int256 available = int256(l.allocatedBalances[partyA]) - int256(lk.cva + lk.lf) + liquidationSig.upnl;
        require(available < 0, "LiquidationFacet: PartyA is solvent");
        l.liquidationStatus[partyA] = true;
        LibLiquidationStore.Layout storage s = LibLiquidationStore.layout();
        s.liquidationId[partyA] = liquidationSig.liquidationId;
        for (uint256 i = 0; i < liquidationSig.symbolIds.length; i++) {
            s.symbolPrice[partyA][liquidationSig.symbolIds[i]] = liquidationSig.prices[i];
        }
        uint256 allocated = l.allocatedBalances[partyA];
        emit LiquidatePartyA(msg.sender, partyA, allocated, liquidationSig.upnl, liquidationSig.totalUnrealizedLoss,
            liquidationSig.liquidationId);
        emit LiquidatePartyA(msg.sender, partyA, allocated, liquidationSig.upnl, liquidationSig.totalUnrealizedLoss);
    }

    function liquidatePendingPositionsPartyA(address partyA) external onlyRole(LibStore.LIQUIDATOR_ROLE) {
        LibStore.Layout storage l = LibStore.layout();
        require(l.liquidationStatus[partyA], "LiquidationFacet: PartyA is solvent");
        uint256[] memory ids = l.partyAPendingQuotes[partyA];
        uint256[] memory amounts = new uint256[](ids.length);
        for (uint256 i = 0; i < ids.length; i++) {
            Quote storage q = l.quotes[ids[i]];
            amounts[i] = q.quantity;
            _releasePending(q);
            q.quoteStatus = QuoteStatus.LIQUIDATED_PENDING;
            q.statusModifyTimestamp = block.timestamp;
        }
        emit LiquidatePendingPositionsPartyA(msg.sender, partyA, ids, amounts,
            LibLiquidationStore.layout().liquidationId[partyA]);
        emit LiquidatePendingPositionsPartyA(msg.sender, partyA);
    }

    function liquidatePositionsPartyA(address partyA, uint256[] memory quoteIds)
        external onlyRole(LibStore.LIQUIDATOR_ROLE)
    {
        LibStore.Layout storage l = LibStore.layout();
        require(l.liquidationStatus[partyA], "LiquidationFacet: PartyA is solvent");
        uint256[] memory amounts = new uint256[](quoteIds.length);
        uint256[] memory closeIds = new uint256[](quoteIds.length);
        for (uint256 i = 0; i < quoteIds.length; i++) {
            Quote storage q = l.quotes[quoteIds[i]];
            require(q.partyA == partyA, "LiquidationFacet: Invalid party");
            require(
                q.quoteStatus == QuoteStatus.OPENED || q.quoteStatus == QuoteStatus.CLOSE_PENDING
                    || q.quoteStatus == QuoteStatus.CANCEL_CLOSE_PENDING,
                "LiquidationFacet: Invalid state"
            );
            amounts[i] = q.quantity - q.closedAmount;
            closeIds[i] = l.closeIds[q.id];
            _liquidatePosition(q, amounts[i]);
        }
        bytes memory liqId = LibLiquidationStore.layout().liquidationId[partyA];
        emit LiquidatePositionsPartyA(msg.sender, partyA, quoteIds, amounts, closeIds, liqId);
        emit LiquidatePositionsPartyA(msg.sender, partyA, quoteIds);
    }

    function _liquidatePosition(Quote storage q, uint256 amount) internal {
        LibStore.Layout storage l = LibStore.layout();
        LibLiquidationStore.Layout storage s = LibLiquidationStore.layout();
        uint256 price = s.symbolPrice[q.partyA][q.symbolId];
        require(price > 0, "LiquidationFacet: Price should be set");
        LockedValues memory lv = q.lockedValues;
        LibStore.subLV(l.lockedBalances[q.partyA], lv);
        LibStore.subLV(l.partyBLockedBalances[q.partyB][q.partyA], lv);
        LibStore.removeId(l.partyAPositions[q.partyA], q.id);
        LibStore.removeId(l.partyBPositions[q.partyB][q.partyA], q.id);
        int256 diff = int256(price) - int256(q.openedPrice);
        int256 pnlA = int256(amount) * diff / 1e18; // PartyA's PnL for a LONG
        if (q.positionType == PositionType.SHORT) pnlA = -pnlA;
        if (!s.involved[q.partyA][q.partyB]) {
            s.involved[q.partyA][q.partyB] = true;
            s.involvedPartyBs[q.partyA].push(q.partyB);
        }
        // PartyB is owed PartyA's loss (or owes its profit, paid right away)
        if (pnlA > 0) {
            uint256 pay = uint256(pnlA);
            uint256 have = l.partyBAllocatedBalances[q.partyB][q.partyA];
            if (pay > have) pay = have;
            l.partyBAllocatedBalances[q.partyB][q.partyA] -= pay;
            l.allocatedBalances[q.partyA] += pay;
        } else {
            s.settlement[q.partyA][q.partyB] += -pnlA;
        }
        q.avgClosedPrice = price;
        q.closedAmount = q.quantity;
        q.quantityToClose = 0;
        q.requestedClosePrice = 0;
        q.quoteStatus = QuoteStatus.LIQUIDATED;
        q.statusModifyTimestamp = block.timestamp;
    }

    function settlePartyALiquidation(address partyA, address[] memory partyBs)
        external onlyRole(LibStore.LIQUIDATOR_ROLE)
    {
        LibStore.Layout storage l = LibStore.layout();
        LibLiquidationStore.Layout storage s = LibLiquidationStore.layout();
        require(l.liquidationStatus[partyA], "LiquidationFacet: PartyA is solvent");
        require(l.partyAPositions[partyA].length == 0, "LiquidationFacet: PartyA has open positions");
        uint256 owed;
        for (uint256 i = 0; i < partyBs.length; i++) owed += uint256(s.settlement[partyA][partyBs[i]]);
        uint256 available = l.allocatedBalances[partyA];
        int256[] memory amounts = new int256[](partyBs.length);
        for (uint256 i = 0; i < partyBs.length; i++) {
            uint256 due = uint256(s.settlement[partyA][partyBs[i]]);
            uint256 pay = owed <= available ? due : (owed == 0 ? 0 : due * available / owed);
            s.settlement[partyA][partyBs[i]] = 0;
            l.allocatedBalances[partyA] -= pay;
            l.partyBAllocatedBalances[partyBs[i]][partyA] += pay;
            amounts[i] = int256(pay);
        }
        bytes memory liqId = s.liquidationId[partyA];
        emit SettlePartyALiquidation(partyA, partyBs, amounts, liqId);
        emit SettlePartyALiquidation(partyA, partyBs, amounts);
        bool done = true;
        address[] storage inv = s.involvedPartyBs[partyA];
        for (uint256 i = 0; i < inv.length; i++) {
            if (s.settlement[partyA][inv[i]] != 0) done = false;
        }
        if (done) {
            l.allocatedBalances[partyA] = 0;
            l.liquidationStatus[partyA] = false;
            l.partyANonces[partyA] += 1;
            emit FullyLiquidatedPartyA(partyA, liqId);
            emit FullyLiquidatedPartyA(partyA);
        }
    }
}
