// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Storage.sol";

/// Minimal EIP-2535-style diamond: selector -> facet table, owner registers facets.
contract Diamond {
    event FacetSet(address facet, bytes4[] selectors);

    constructor(address owner_) {
        S.Layout storage s = S.l();
        s.owner = owner_;
        s.roles[owner_][S.DEFAULT_ADMIN_ROLE] = true;
    }

    function setFacet(address facet, bytes4[] calldata selectors) external {
        S.Layout storage s = S.l();
        require(msg.sender == s.owner, "Diamond: Not owner");
        for (uint256 i = 0; i < selectors.length; i++) {
            s.facets[selectors[i]] = facet;
        }
        emit FacetSet(facet, selectors);
    }

    function facetAddress(bytes4 selector) external view returns (address) {
        return S.l().facets[selector];
    }

    fallback() external payable {
        address facet = S.l().facets[msg.sig];
        require(facet != address(0), "Diamond: Function does not exist");
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), facet, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }

    receive() external payable {}
}
