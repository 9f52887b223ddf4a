// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import "./Base.sol";

/// Deposits, withdrawals and allocations (AccountFacet + PartyB allocation of 0.8.4).
contract AccountFacet is FacetBase {
    function _scaleIn(uint256 amount) internal view returns (uint256) {
        uint8 d = IERC20Min(LibStore.layout().collateral).decimals();
        return amount * (10 ** (18 - d));
    }

    function _deposit(address user, uint256 amount) internal {
        LibStore.Layout storage l = LibStore.layout();
        require(IERC20Min(l.collateral).transferFrom(msg.sender, address(this), amount), "AccountFacet: transfer failed");
        l.balances[user] += _scaleIn(amount);
        emit Deposit(msg.sender, user, amount);
    }

    function deposit(uint256 amount) external whenNotAccountingPaused {
        _deposit(msg.sender, amount);
    }

    function depositFor(address user, uint256 amount) external whenNotAccountingPaused {
        _deposit(user, amount);
    }

    function _withdraw(address to, uint256 amount) internal {
        LibStore.Layout storage l = LibStore.layout();
        require(
            block.timestamp >= l.withdrawCooldown[msg.sender] + l.deallocateCooldown,
            "AccountFacet: Cooldown hasn't reached"
        );
        uint256 amountWith18 = _scaleIn(amount);
        require(l.balances[msg.sender] >= amountWith18, "AccountFacet: Insufficient balance");
        l.balances[msg.sender] -= amountWith18;
        require(IERC20Min(l.collateral).transfer(to, amount), "AccountFacet: transfer failed");
        emit Withdraw(msg.sender, to, amount);
    }

    function withdraw(uint256 amount) external whenNotAccountingPaused notSuspended(msg.sender) {
        _withdraw(msg.sender, amount);
    }

    function withdrawTo(address user, uint256 amount) external whenNotAccountingPaused notSuspended(msg.sender) {
        require(user != address(0), "AccountFacet: Zero address");
        _withdraw(user, amount);
    }

    function _allocate(uint256 amount) internal {
        LibStore.Layout storage l = LibStore.layout();
        require(!l.liquidationStatus[msg.sender], "Accessibility: PartyA isn't solvent");
        require(l.allocatedBalances[msg.sender] + amount <= l.balanceLimitPerUser, "AccountFacet: Allocated balance limit reached");
        require(l.balances[msg.sender] >= amount, "AccountFacet: Insufficient balance");
        l.balances[msg.sender] -= amount;
        l.allocatedBalances[msg.sender] += amount;
        emit BalanceChangePartyA(msg.sender, amount, BalanceChangeType.ALLOCATE);
        emit AllocatePartyA(msg.sender, amount, l.allocatedBalances[msg.sender]);
        emit AllocatePartyA(msg.sender, amount);
    }

    function allocate(uint256 amount) external whenNotAccountingPaused notPartyB {
        _allocate(amount);
    }

    function depositAndAllocate(uint256 amount) external whenNotAccountingPaused notPartyB {
        _deposit(msg.sender, amount);
        _allocate(_scaleIn(amount));
    }

    function deallocate(uint256 amount, SingleUpnlSig memory upnlSig) external whenNotAccountingPaused notPartyB {
        LibStore.Layout storage l = LibStore.layout();
        require(!l.liquidationStatus[msg.sender], "Accessibility: PartyA isn't solvent");
        require(l.allocatedBalances[msg.sender] >= amount, "AccountFacet: Insufficient allocated Balance");
        LibMuonCheck.verifyPartyAUpnl(upnlSig, msg.sender);
        require(
            LibStore.partyAAvailable(msg.sender, upnlSig.upnl) >= int256(amount),
            "AccountFacet: partyA will be liquidatable"
        );
        l.allocatedBalances[msg.sender] -= amount;
        l.balances[msg.sender] += amount;
        l.withdrawCooldown[msg.sender] = block.timestamp;
        emit BalanceChangePartyA(msg.sender, amount, BalanceChangeType.DEALLOCATE);
        emit DeallocatePartyA(msg.sender, amount, l.allocatedBalances[msg.sender]);
        emit DeallocatePartyA(msg.sender, amount);
    }

    function allocateForPartyB(uint256 amount, address partyA) external whenNotPartyBActionsPaused onlyPartyB {
        LibStore.Layout storage l = LibStore.layout();
        require(!l.partyBLiquidationStatus[msg.sender][partyA], "Accessibility: PartyB isn't solvent");
        require(l.balances[msg.sender] >= amount, "PartyBFacet: Insufficient balance");
        l.balances[msg.sender] -= amount;
        l.partyBAllocatedBalances[msg.sender][partyA] += amount;
        emit BalanceChangePartyB(msg.sender, partyA, amount, BalanceChangeType.ALLOCATE);
        emit AllocateForPartyB(msg.sender, partyA, amount, l.partyBAllocatedBalances[msg.sender][partyA]);
        emit AllocateForPartyB(msg.sender, partyA, amount);
    }

    function deallocateForPartyB(uint256 amount, address partyA, SingleUpnlSig memory upnlSig)
        external whenNotPartyBActionsPaused onlyPartyB
    {
        LibStore.Layout storage l = LibStore.layout();
        require(!l.partyBLiquidationStatus[msg.sender][partyA], "Accessibility: PartyB isn't solvent");
        require(!l.liquidationStatus[partyA], "Accessibility: PartyA isn't solvent");
        require(l.partyBAllocatedBalances[msg.sender][partyA] >= amount, "PartyBFacet: Insufficient allocated balance");
        LibMuonCheck.verifyPartyBUpnl(upnlSig, msg.sender, partyA);
        require(
            LibStore.partyBAvailable(msg.sender, partyA, upnlSig.upnl) >= int256(amount),
            "PartyBFacet: Will be liquidatable"
        );
        l.partyBAllocatedBalances[msg.sender][partyA] -= amount;
        l.balances[msg.sender] += amount;
        l.withdrawCooldown[msg.sender] = block.timestamp;
        emit BalanceChangePartyB(msg.sender, partyA, amount, BalanceChangeType.DEALLOCATE);
        emit DeallocateForPartyB(msg.sender, partyA, amount, l.partyBAllocatedBalances[msg.sender][partyA]);
        emit DeallocateForPartyB(msg.sender, partyA, amount);
    }
}
