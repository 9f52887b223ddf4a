// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Events.sol";
import "./LibCore.sol";
import "./LibMuon.sol";
import "./LibGuard.sol";

interface IERC20Like {
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function transfer(address to, uint256 amount) external returns (bool);
}

contract AccountFacet is Events {
    modifier accountingActive() {
        LibGuard.accounting();
        _;
    }

    function _deposit(address user, uint256 amount) internal {
        S.Layout storage s = S.l();
        require(IERC20Like(s.collateral).transferFrom(msg.sender, address(this), amount), "AccountFacet: transfer failed");
        s.balances[user] += amount;
        emit Deposit(msg.sender, user, amount);
    }

    function deposit(uint256 amount) external accountingActive {
        _deposit(msg.sender, amount);
    }

    function depositFor(address user, uint256 amount) external accountingActive {
        _deposit(user, amount);
    }

    function withdraw(uint256 amount) external accountingActive {
        _withdraw(msg.sender, amount);
    }

    function withdrawTo(address user, uint256 amount) external accountingActive {
        _withdraw(user, amount);
    }

    function _withdraw(address to, uint256 amount) internal {
        S.Layout storage s = S.l();
        require(
            block.timestamp >= s.withdrawCooldown[msg.sender] + s.deallocateCooldown,
            "LibAccount: Cooldown hasn't reached"
        );
        require(s.balances[msg.sender] >= amount, "LibAccount: Insufficient balance");
        s.balances[msg.sender] -= amount;
        require(IERC20Like(s.collateral).transfer(to, amount), "AccountFacet: transfer failed");
        emit Withdraw(msg.sender, to, amount);
    }

    function _allocate(uint256 amount) internal {
        S.Layout storage s = S.l();
        require(!s.liquidationStatus[msg.sender], "Accessibility: PartyA isn't solvent");
        require(s.allocatedBalances[msg.sender] + amount <= s.balanceLimitPerUser, "AccountFacet: Allocated balance limit reached");
        require(s.balances[msg.sender] >= amount, "AccountFacet: Insufficient balance");
        s.balances[msg.sender] -= amount;
        s.allocatedBalances[msg.sender] += amount;
        emit AllocatePartyA(msg.sender, amount, s.allocatedBalances[msg.sender]);
        emit AllocatePartyA(msg.sender, amount);
        emit BalanceChangePartyA(msg.sender, amount, BalanceChangeType.ALLOCATE);
    }

    function allocate(uint256 amount) external accountingActive {
        _allocate(amount);
    }

    function depositAndAllocate(uint256 amount) external accountingActive {
        _deposit(msg.sender, amount);
        _allocate(amount);
    }

    function deallocate(uint256 amount, SingleUpnlSig memory upnlSig) external accountingActive {
        S.Layout storage s = S.l();
        require(!s.liquidationStatus[msg.sender], "Accessibility: PartyA isn't solvent");
        require(s.allocatedBalances[msg.sender] >= amount, "AccountFacet: Insufficient allocated Balance");
        LibMuon.verifyPartyAUpnl(upnlSig, msg.sender);
        require(
            LibCore.partyAAvailableForQuote(upnlSig.upnl, msg.sender) >= int256(amount),
            "AccountFacet: partyA will be liquidatable"
        );
        s.allocatedBalances[msg.sender] -= amount;
        s.balances[msg.sender] += amount;
        s.withdrawCooldown[msg.sender] = block.timestamp;
        emit DeallocatePartyA(msg.sender, amount, s.allocatedBalances[msg.sender]);
        emit DeallocatePartyA(msg.sender, amount);
        emit BalanceChangePartyA(msg.sender, amount, BalanceChangeType.DEALLOCATE);
    }

    function allocateForPartyB(uint256 amount, address partyA) external {
        S.Layout storage s = S.l();
        LibGuard.partyBActions();
        LibGuard.notLiquidatedPartyB(msg.sender, partyA);
        LibGuard.onlyPartyB();
        require(s.balances[msg.sender] >= amount, "PartyBFacet: Insufficient balance");
        s.balances[msg.sender] -= amount;
        s.partyBAllocatedBalances[msg.sender][partyA] += amount;
        uint256 nb = s.partyBAllocatedBalances[msg.sender][partyA];
        emit AllocateForPartyB(msg.sender, partyA, amount, nb);
        emit AllocateForPartyB(msg.sender, partyA, amount);
        emit BalanceChangePartyB(msg.sender, partyA, amount, BalanceChangeType.ALLOCATE);
    }

    function deallocateForPartyB(uint256 amount, address partyA, SingleUpnlSig memory upnlSig) external {
        S.Layout storage s = S.l();
        LibGuard.partyBActions();
        LibGuard.notLiquidatedPartyB(msg.sender, partyA);
        LibGuard.notSuspended(msg.sender);
        LibGuard.notLiquidatedPartyA(partyA);
        LibGuard.onlyPartyB();
        require(s.partyBAllocatedBalances[msg.sender][partyA] >= amount, "PartyBFacet: Insufficient allocated balance");
        LibMuon.verifyPartyBUpnl(upnlSig, msg.sender, partyA);
        require(
            LibCore.partyBAvailableForQuote(upnlSig.upnl, msg.sender, partyA) >= int256(amount),
            "PartyBFacet: Will be liquidatable"
        );
        s.partyBAllocatedBalances[msg.sender][partyA] -= amount;
        s.balances[msg.sender] += amount;
        s.withdrawCooldown[msg.sender] = block.timestamp;
        uint256 nb = s.partyBAllocatedBalances[msg.sender][partyA];
        emit DeallocateForPartyB(msg.sender, partyA, amount, nb);
        emit DeallocateForPartyB(msg.sender, partyA, amount);
        emit BalanceChangePartyB(msg.sender, partyA, amount, BalanceChangeType.DEALLOCATE);
    }

    /// PartyB's emergency reserve, drawn by a force close that would leave PartyB insolvent.
    function depositToReserveVault(uint256 amount, address partyB) external {
        LibGuard.partyBActions();
        LibGuard.notSuspended(msg.sender);
        LibGuard.notSuspended(partyB);
        S.Layout storage s = S.l();
        require(amount <= s.balances[msg.sender], "AccountFacet: Insufficient balance");
        require(s.partyBStatus[partyB], "AccountFacet: Should be partyB");
        s.balances[msg.sender] -= amount;
        s.reserveVault[partyB] += amount;
        emit DepositToReserveVault(msg.sender, partyB, amount);
    }

    function withdrawFromReserveVault(uint256 amount) external {
        LibGuard.partyBActions();
        LibGuard.notSuspended(msg.sender);
        S.Layout storage s = S.l();
        require(amount > 0 && amount <= s.reserveVault[msg.sender], "AccountFacet: Insufficient balance");
        s.reserveVault[msg.sender] -= amount;
        s.balances[msg.sender] += amount;
        s.withdrawCooldown[msg.sender] = block.timestamp;
        emit WithdrawFromReserveVault(msg.sender, amount);
    }
}
