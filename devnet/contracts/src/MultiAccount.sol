// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// A minimal SYMMIO-style MultiAccount for the devnet: each wallet owns sub-accounts (one small
/// proxy contract each) that act as PartyA on the diamond. Only SYMMIO MultiAccount's interface
/// facts are reproduced (function signatures, the `Account` struct, event shapes).

interface IMultiAccountToken {
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function approve(address spender, uint256 amount) external returns (bool);
    function decimals() external view returns (uint8);
}

interface IMultiAccountSymmio {
    function depositFor(address user, uint256 amount) external;
    function getCollateral() external view returns (address);
}

/// One sub-account: forwards calls to the diamond, callable only by its MultiAccount.
contract SymmioPartyA {
    address public immutable multiAccount;
    address public immutable symmioAddress;

    constructor(address multiAccount_, address symmio_) {
        multiAccount = multiAccount_;
        symmioAddress = symmio_;
    }

    function _call(bytes memory callData) external returns (bool success, bytes memory resultData) {
        require(msg.sender == multiAccount, "SymmioPartyA: only MultiAccount");
        (success, resultData) = symmioAddress.call(callData);
    }
}

contract MultiAccount {
    struct Account {
        address accountAddress;
        string name;
    }

    address public immutable symmioAddress;
    mapping(address => Account[]) private accounts; // owner -> its sub-accounts
    mapping(address => uint256) public indexOfAccount; // sub-account -> index in its owner's list
    mapping(address => address) public owners; // sub-account -> owner

    event AddAccount(address user, address account, string name);
    event DepositForAccount(address user, address account, uint256 amount);
    event AllocateForAccount(address user, address account, uint256 amount);
    event Call(address user, address account, bytes _callData, bool _success, bytes _resultData);

    constructor(address symmio_) {
        symmioAddress = symmio_;
    }

    modifier onlyOwner(address account) {
        require(owners[account] == msg.sender, "MultiAccount: Sender isn't owner of account");
        _;
    }

    function addAccount(string memory name) external returns (address account) {
        account = address(new SymmioPartyA(address(this), symmioAddress));
        indexOfAccount[account] = accounts[msg.sender].length;
        accounts[msg.sender].push(Account(account, name));
        owners[account] = msg.sender;
        emit AddAccount(msg.sender, account, name);
    }

    function getAccountsLength(address user) external view returns (uint256) {
        return accounts[user].length;
    }

    /// The owner's sub-accounts start .. start+size (clipped to the list's end).
    function getAccounts(address user, uint256 start, uint256 size)
        external
        view
        returns (Account[] memory out)
    {
        Account[] storage list = accounts[user];
        uint256 end = start + size > list.length ? list.length : start + size;
        uint256 n = start < end ? end - start : 0;
        out = new Account[](n);
        for (uint256 i = 0; i < n; i++) {
            out[i] = list[start + i];
        }
    }

    function _pullAndDeposit(address account, uint256 amount) internal {
        address collateral = IMultiAccountSymmio(symmioAddress).getCollateral();
        require(
            IMultiAccountToken(collateral).transferFrom(msg.sender, address(this), amount),
            "MultiAccount: transfer failed"
        );
        IMultiAccountToken(collateral).approve(symmioAddress, amount);
        IMultiAccountSymmio(symmioAddress).depositFor(account, amount);
        emit DepositForAccount(msg.sender, account, amount);
    }

    function depositForAccount(address account, uint256 amount) external onlyOwner(account) {
        _pullAndDeposit(account, amount);
    }

    function depositAndAllocateForAccount(address account, uint256 amount)
        external
        onlyOwner(account)
    {
        _pullAndDeposit(account, amount);
        address collateral = IMultiAccountSymmio(symmioAddress).getCollateral();
        uint256 amount18 = (amount * 1e18) / (10 ** IMultiAccountToken(collateral).decimals());
        _forward(account, abi.encodeWithSignature("allocate(uint256)", amount18));
        emit AllocateForAccount(msg.sender, account, amount18);
    }

    /// The owner's calls to the diamond, made by its sub-account (which is then PartyA).
    function _call(address account, bytes[] memory _callDatas) external onlyOwner(account) {
        for (uint256 i = 0; i < _callDatas.length; i++) {
            _forward(account, _callDatas[i]);
        }
    }

    function _forward(address account, bytes memory callData) internal {
        (bool success, bytes memory resultData) = SymmioPartyA(account)._call(callData);
        emit Call(msg.sender, account, callData, success, resultData);
        if (!success) {
            assembly {
                revert(add(resultData, 32), mload(resultData))
            }
        }
    }
}
