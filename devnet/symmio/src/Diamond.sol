// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import "./Storage.sol";

/// Minimal diamond: one address, selector -> facet table, delegatecall in the fallback.
/// Facets are registered in the constructor or by the owner with `diamondCut`.
contract SymmioDiamond {
    bytes32 internal constant FACETS_SLOT = keccak256("symmio-hedger.devnet.symmio.diamond.facets.v1");

    event FacetSet(bytes4 selector, address facet);

    struct FacetMap { mapping(bytes4 => address) facetOf; bytes4[] selectors; }

    function _map() internal pure returns (FacetMap storage m) {
        bytes32 slot = FACETS_SLOT;
        assembly { m.slot := slot }
    }

    constructor(address owner, address[] memory facets, bytes4[][] memory selectors) {
        LibStore.layout().owner = owner;
        _cut(facets, selectors);
    }

    function _cut(address[] memory facets, bytes4[][] memory selectors) internal {
        require(facets.length == selectors.length, "Diamond: length mismatch");
        FacetMap storage m = _map();
        for (uint256 i = 0; i < facets.length; i++) {
            for (uint256 j = 0; j < selectors[i].length; j++) {
                bytes4 sel = selectors[i][j];
                if (m.facetOf[sel] == address(0)) m.selectors.push(sel);
                m.facetOf[sel] = facets[i];
                emit FacetSet(sel, facets[i]);
            }
        }
    }

    /// Owner-only: add or replace selectors (facet address 0 removes routing for them).
    function diamondCut(address[] memory facets, bytes4[][] memory selectors) external {
        require(msg.sender == LibStore.layout().owner, "LibDiamond: Must be contract owner");
        _cut(facets, selectors);
    }

    function facetAddress(bytes4 selector) external view returns (address) { return _map().facetOf[selector]; }

    function facetSelectors() external view returns (bytes4[] memory) { return _map().selectors; }

    function owner() external view returns (address) { return LibStore.layout().owner; }

    fallback() external payable {
        address facet = _map().facetOf[msg.sig];
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
