"""The hedger's chain side: the diamond ABI (`abi`), read access with RPC fallback (`client`),
one signer's transactions (`sender`) and their typed failures (`errors`)."""
