"""Async client of the Muon oracle (`symmio` app) with gateway fallback.

Request (SYMMIO.md §3.4): ``GET {gateway}?app=symmio&method=<m>&params[partyB]=..&params[partyA]=..
&params[chainId]=..&params[symbolId]=..&params[symmio]=<diamond>``; array params are JSON strings
(``params[quoteIds]=[10,11]``). A gateway URL is the full endpoint, e.g.
``https://muon-oracle1.rasa.capital/v1/`` or the devnet oracle's ``http://127.0.0.1:8546/v1/``.

Gateways are tried in order; the next one is tried on a network error, a timeout, an HTTP 5xx,
a non-JSON body, ``success: false`` or an answer that fails validation. When every gateway
failed, `MuonUnavailable` is raised if none of them produced an answer (network error, timeout,
5xx, non-JSON body), otherwise `MuonError` (a gateway answered, but with an error or an unusable
envelope). With `MuonVerification` the client recomputes the signed hash from the answer
(domain.muon) and requires the gateway signature to recover to the configured gateway.

Signatures embed on-chain nonces and expire: fetch one right before the transaction that uses
it, inside the same activity attempt, and never reuse it across retries (DESIGN §3).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import is_address, to_checksum_address

from domain import muon
from domain.muon import (
    MuonMethod,
    PairUpnlAndPriceSig,
    PairUpnlSig,
    QuotePriceSig,
    QuoteSettlementData,
    SchnorrSign,
    SettlementSig,
    SingleUpnlAndPriceSig,
    SingleUpnlSig,
)

APP = "symmio"
_Q = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

ParamValue = str | int | Sequence[int]


class MuonError(Exception):
    """A Muon answer is an error or unusable (after trying every gateway)."""

    def __init__(self, message: str, attempts: Sequence[GatewayAttempt] = ()) -> None:
        if attempts:
            message += "; " + "; ".join(f"{a.url}: {a.error}" for a in attempts)
        super().__init__(message)
        self.attempts = list(attempts)


class MuonUnavailable(MuonError):
    """No gateway answered (network errors, timeouts, HTTP 5xx)."""


@dataclass(frozen=True, slots=True)
class GatewayAttempt:
    url: str
    error: str
    answered: bool  # the gateway produced an application-level answer (not a network/5xx failure)


@dataclass(frozen=True, slots=True)
class MuonResponse:
    """A validated Muon envelope."""

    method: str
    gateway: str
    req_id: bytes
    timestamp: int
    result: Mapping[str, Any]  # result.data.result (method-specific; ints as decimal strings)
    sigs: SchnorrSign
    gateway_signature: bytes
    raw: Mapping[str, Any] = field(repr=False)

    def int_field(self, name: str) -> int:
        value = self.result.get(name)
        try:
            return int(str(value))
        except (TypeError, ValueError):
            raise MuonError(f"{self.method}: result.{name} is not an integer: {value!r}") from None

    def int_list(self, name: str) -> tuple[int, ...]:
        values = self.result.get(name)
        if not isinstance(values, list):
            raise MuonError(f"{self.method}: result.{name} is not a list: {values!r}")
        try:
            return tuple(int(str(v)) for v in values)
        except ValueError:
            raise MuonError(
                f"{self.method}: result.{name} holds a non-integer: {values!r}"
            ) from None


@dataclass(frozen=True, slots=True)
class MuonVerification:
    """Optional local check: recompute the signed hash from the answer (its nonces, uPnLs,
    price, timestamp) and require the gateway signature to come from `gateway`. Catches a
    misconfigured or lying gateway before a transaction is wasted on it."""

    muon_app_id: int
    gateway: str


def build_query(method: str, params: Mapping[str, ParamValue], app: str = APP) -> str:
    """The query string exactly as Muon expects it (array params as JSON strings)."""
    parts = [("app", app), ("method", method)]
    for key, value in params.items():
        if isinstance(value, str):
            text = value
        elif isinstance(value, int):
            text = str(value)
        else:
            text = json.dumps([int(v) for v in value], separators=(",", ":"))
        parts.append((f"params[{key}]", text))
    return urlencode(parts, safe="[],")


def _hex_bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise MuonError(f"{what} is not 0x-hex: {value!r}")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise MuonError(f"{what} is not 0x-hex: {value!r}") from None


def _as_dict(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise MuonError(f"{what} missing or not an object")
    return value


def parse_envelope(method: str, gateway: str, body: Any) -> MuonResponse:
    """Validate a Muon response envelope and extract the signature parts."""
    envelope = _as_dict(body, "response")
    if envelope.get("success") is not True:
        error = envelope.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        raise MuonError(f"gateway refused {method}: {message or 'success is not true'}")
    result = _as_dict(envelope.get("result"), "result")
    req_id = _hex_bytes(result.get("reqId"), "result.reqId")
    if not req_id:
        raise MuonError("result.reqId is empty")
    data = _as_dict(result.get("data"), "result.data")
    timestamp = data.get("timestamp")
    try:
        timestamp_int = int(str(timestamp))
    except (TypeError, ValueError):
        raise MuonError(f"result.data.timestamp is not an integer: {timestamp!r}") from None
    signatures = result.get("signatures")
    if not isinstance(signatures, list) or not signatures or not isinstance(signatures[0], dict):
        raise MuonError("result.signatures is missing or empty")
    s = int.from_bytes(_hex_bytes(signatures[0].get("signature"), "signatures[0].signature"), "big")
    if not 0 < s < _Q:
        raise MuonError("signatures[0].signature is out of range")
    owner = signatures[0].get("owner")
    if not isinstance(owner, str) or not is_address(owner):
        raise MuonError(f"signatures[0].owner is not an address: {owner!r}")
    nonce = _as_dict(data.get("init"), "result.data.init").get("nonceAddress")
    if not isinstance(nonce, str) or not is_address(nonce) or int(nonce, 16) == 0:
        raise MuonError(f"result.data.init.nonceAddress is not an address: {nonce!r}")
    gateway_signature = _hex_bytes(result.get("nodeSignature"), "result.nodeSignature")
    if len(gateway_signature) != 65:
        raise MuonError(f"result.nodeSignature must be 65 bytes, got {len(gateway_signature)}")
    return MuonResponse(
        method=method,
        gateway=gateway,
        req_id=req_id,
        timestamp=timestamp_int,
        result=_as_dict(data.get("result"), "result.data.result"),
        sigs=SchnorrSign(s, to_checksum_address(owner), to_checksum_address(nonce)),
        gateway_signature=gateway_signature,
        raw=envelope,
    )


class MuonClient:
    """Fetches Muon signatures for SYMMIO calls, trying `gateways` in order."""

    def __init__(
        self,
        gateways: Sequence[str],
        *,
        app: str = APP,
        timeout: float = 5.0,
        verification: MuonVerification | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        if not gateways:
            raise ValueError("at least one Muon gateway URL is required")
        self.gateways = list(gateways)
        self.app = app
        self.verification = verification
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> MuonClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ transport
    async def request(
        self,
        method: str,
        params: Mapping[str, ParamValue],
        validate: Callable[[MuonResponse], object] | None = None,
    ) -> MuonResponse:
        """One validated answer from the first gateway that gives one. `validate` may raise
        `MuonError` to reject an answer (the next gateway is then tried)."""
        query = build_query(method, params, self.app)
        attempts: list[GatewayAttempt] = []
        for gateway in self.gateways:
            url = f"{gateway}{'&' if '?' in gateway else '?'}{query}"
            try:
                response = await self._http.get(url)
            except httpx.HTTPError as exc:
                attempts.append(GatewayAttempt(gateway, f"{type(exc).__name__}: {exc}", False))
                continue
            if response.status_code >= 500:
                attempts.append(
                    GatewayAttempt(
                        gateway, f"HTTP {response.status_code}: {_snippet(response)}", False
                    )
                )
                continue
            try:
                body = response.json()
            except ValueError:
                attempts.append(
                    GatewayAttempt(
                        gateway,
                        f"HTTP {response.status_code}, not JSON: {_snippet(response)}",
                        False,
                    )
                )
                continue
            try:
                answer = parse_envelope(method, gateway, body)
                self._check(method, params, answer)
                if validate is not None:
                    validate(answer)
            except MuonError as exc:
                attempts.append(GatewayAttempt(gateway, str(exc), True))
                continue
            return answer
        if any(a.answered for a in attempts):
            raise MuonError(f"no usable Muon answer for {method}", attempts)
        raise MuonUnavailable(f"no Muon gateway reachable for {method}", attempts)

    @staticmethod
    def _check(method: str, params: Mapping[str, ParamValue], answer: MuonResponse) -> None:
        """The answer must be about what was asked (when the gateway echoes it)."""
        for key in ("partyA", "partyB", "symmio"):
            echoed = answer.result.get(key)
            if (
                echoed is not None
                and key in params
                and str(echoed).lower() != str(params[key]).lower()
            ):
                raise MuonError(f"answer is for {key}={echoed}, asked {params[key]}")
        for key in ("chainId", "symbolId"):
            echoed = answer.result.get(key)
            if echoed is not None and key in params and str(echoed) != str(params[key]):
                raise MuonError(f"answer is for {key}={echoed}, asked {params[key]}")

    def _verify(self, hashed: muon.MuonHash, answer: MuonResponse) -> None:
        if self.verification is None:
            return
        try:
            signer = Account.recover_message(
                encode_defunct(primitive=hashed.digest), signature=answer.gateway_signature
            )
        except Exception as exc:  # malformed r/s/v
            raise MuonError(f"{answer.method}: unusable gateway signature ({exc})") from None
        if str(signer).lower() != self.verification.gateway.lower():
            raise MuonError(
                f"{answer.method} from {answer.gateway}: gateway signature by {signer}, expected "
                f"{self.verification.gateway} (hash {hashed.hex})"
            )

    def _common(self, answer: MuonResponse, symmio: str, chain_id: int) -> dict[str, Any]:
        app_id = self.verification.muon_app_id if self.verification else 0
        return {
            "muon_app_id": app_id,
            "req_id": answer.req_id,
            "symmio": symmio,
            "timestamp": answer.timestamp,
            "chain_id": chain_id,
        }

    # ------------------------------------------------------------------ typed calls
    async def party_b_upnl_sig(
        self, *, party_b: str, party_a: str, chain_id: int, symmio: str
    ) -> SingleUpnlSig:
        """`uPnl_B` → SingleUpnlSig for lockQuote / deallocateForPartyB / transferAllocation."""
        params: dict[str, ParamValue] = {
            "partyB": party_b,
            "partyA": party_a,
            "chainId": chain_id,
            "symmio": symmio,
        }
        answer = await self._checked(
            params,
            MuonMethod.UPNL_B,
            lambda a: muon.single_upnl_party_b_hash(
                **self._common(a, symmio, chain_id),
                party_b=party_b,
                party_a=party_a,
                nonce_b=a.int_field("nonce"),
                upnl=a.int_field("uPnl"),
            ),
        )
        return SingleUpnlSig(
            answer.req_id,
            answer.timestamp,
            answer.int_field("uPnl"),
            answer.gateway_signature,
            answer.sigs,
        )

    async def party_a_upnl_sig(self, *, party_a: str, chain_id: int, symmio: str) -> SingleUpnlSig:
        """`uPnl_A` → PartyA's SingleUpnlSig (deallocate)."""
        params: dict[str, ParamValue] = {"partyA": party_a, "chainId": chain_id, "symmio": symmio}
        answer = await self._checked(
            params,
            MuonMethod.UPNL_A,
            lambda a: muon.single_upnl_party_a_hash(
                **self._common(a, symmio, chain_id),
                party_a=party_a,
                nonce_a=a.int_field("nonce"),
                upnl=a.int_field("uPnl"),
            ),
        )
        return SingleUpnlSig(
            answer.req_id,
            answer.timestamp,
            answer.int_field("uPnl"),
            answer.gateway_signature,
            answer.sigs,
        )

    async def party_a_upnl_and_price_sig(
        self, *, party_a: str, chain_id: int, symmio: str, symbol_id: int
    ) -> SingleUpnlAndPriceSig:
        """`uPnl_A_withSymbolPrice` → SingleUpnlAndPriceSig (PartyA's sendQuote)."""
        params: dict[str, ParamValue] = {
            "partyA": party_a,
            "chainId": chain_id,
            "symbolId": symbol_id,
            "symmio": symmio,
        }
        answer = await self._checked(
            params,
            MuonMethod.UPNL_A_WITH_SYMBOL_PRICE,
            lambda a: muon.single_upnl_and_price_hash(
                **self._common(a, symmio, chain_id),
                party_a=party_a,
                nonce_a=a.int_field("nonce"),
                upnl=a.int_field("uPnl"),
                symbol_id=symbol_id,
                price=a.int_field("price"),
            ),
        )
        return SingleUpnlAndPriceSig(
            answer.req_id,
            answer.timestamp,
            answer.int_field("uPnl"),
            answer.int_field("price"),
            answer.gateway_signature,
            answer.sigs,
        )

    async def pair_upnl_and_price_sig(
        self, *, party_b: str, party_a: str, chain_id: int, symmio: str, symbol_id: int
    ) -> PairUpnlAndPriceSig:
        """`uPnlWithSymbolPrice` → PairUpnlAndPriceSig (openPosition, fillCloseRequest,
        emergencyClosePosition, lockAndOpenQuote)."""
        params: dict[str, ParamValue] = {
            "partyB": party_b,
            "partyA": party_a,
            "chainId": chain_id,
            "symbolId": symbol_id,
            "symmio": symmio,
        }
        answer = await self._checked(
            params,
            MuonMethod.UPNL_WITH_SYMBOL_PRICE,
            lambda a: muon.pair_upnl_and_price_hash(
                **self._common(a, symmio, chain_id),
                party_b=party_b,
                party_a=party_a,
                nonce_b=a.int_field("nonceB"),
                nonce_a=a.int_field("nonceA"),
                upnl_party_b=a.int_field("uPnlB"),
                upnl_party_a=a.int_field("uPnlA"),
                symbol_id=symbol_id,
                price=a.int_field("price"),
            ),
        )
        return PairUpnlAndPriceSig(
            answer.req_id,
            answer.timestamp,
            answer.int_field("uPnlA"),
            answer.int_field("uPnlB"),
            answer.int_field("price"),
            answer.gateway_signature,
            answer.sigs,
        )

    async def pair_upnl_sig(
        self, *, party_b: str, party_a: str, chain_id: int, symmio: str
    ) -> PairUpnlSig:
        """`uPnl` → PairUpnlSig (chargeFundingRate)."""
        params: dict[str, ParamValue] = {
            "partyB": party_b,
            "partyA": party_a,
            "chainId": chain_id,
            "symmio": symmio,
        }
        answer = await self._checked(
            params,
            MuonMethod.UPNL,
            lambda a: muon.pair_upnl_hash(
                **self._common(a, symmio, chain_id),
                party_b=party_b,
                party_a=party_a,
                nonce_b=a.int_field("nonceB"),
                nonce_a=a.int_field("nonceA"),
                upnl_party_b=a.int_field("uPnlB"),
                upnl_party_a=a.int_field("uPnlA"),
            ),
        )
        return PairUpnlSig(
            answer.req_id,
            answer.timestamp,
            answer.int_field("uPnlA"),
            answer.int_field("uPnlB"),
            answer.gateway_signature,
            answer.sigs,
        )

    async def quote_price_sig(
        self, *, quote_ids: Sequence[int], chain_id: int, symmio: str
    ) -> QuotePriceSig:
        """`price` → QuotePriceSig (liquidatePositionsPartyB)."""
        ids = [int(q) for q in quote_ids]
        params: dict[str, ParamValue] = {"quoteIds": ids, "chainId": chain_id, "symmio": symmio}

        def hashed(a: MuonResponse) -> muon.MuonHash:
            if list(a.int_list("quoteIds")) != ids:
                raise MuonError(
                    f"price answer is for quotes {list(a.int_list('quoteIds'))}, asked {ids}"
                )
            prices = a.int_list("prices")
            if len(prices) != len(ids):
                raise MuonError("price answer has a price count different from the quote count")
            return muon.quote_prices_hash(
                **self._common(a, symmio, chain_id), quote_ids=ids, prices=prices
            )

        answer = await self._checked(params, MuonMethod.PRICE, hashed)
        return QuotePriceSig(
            answer.req_id,
            answer.timestamp,
            tuple(ids),
            answer.int_list("prices"),
            answer.gateway_signature,
            answer.sigs,
        )

    async def settlement_sig(
        self, *, party_a: str, quote_ids: Sequence[int], chain_id: int, symmio: str
    ) -> SettlementSig:
        """`settle_upnl` → SettlementSig (settleUpnl) for PartyA's open `quote_ids`, each at the
        current price Muon signs (`rows[i].current_price`)."""
        ids = [int(q) for q in quote_ids]
        params: dict[str, ParamValue] = {
            "partyA": party_a, "quoteIds": ids, "chainId": chain_id, "symmio": symmio,
        }  # fmt: skip

        def rows_of(a: MuonResponse) -> tuple[QuoteSettlementData, ...]:
            raw = a.result.get("quoteSettlementData")
            if not isinstance(raw, list):
                raise MuonError(f"settle_upnl: quoteSettlementData is not a list: {raw!r}")
            try:
                rows = tuple(QuoteSettlementData(int(str(q)), int(str(p)), int(str(i)))
                             for q, p, i in raw)  # fmt: skip
            except (TypeError, ValueError):
                raise MuonError(f"settle_upnl: unreadable quoteSettlementData {raw!r}") from None
            if [r.quote_id for r in rows] != ids:
                raise MuonError(f"settle_upnl answer is for quotes {raw!r}, asked {ids}")
            return rows

        def hashed(a: MuonResponse) -> muon.MuonHash:
            return muon.settlement_hash(
                **self._common(a, symmio, chain_id), nonces_b=a.int_list("noncesB"),
                nonce_a=a.int_field("nonceA"), settlements=rows_of(a),
                upnl_party_bs=a.int_list("upnlPartyBs"), upnl_party_a=a.int_field("uPnlA"),
            )  # fmt: skip

        answer = await self._checked(params, MuonMethod.SETTLE_UPNL, hashed)
        return SettlementSig(
            answer.req_id,
            answer.timestamp,
            rows_of(answer),
            answer.int_list("upnlPartyBs"),
            answer.int_field("uPnlA"),
            answer.gateway_signature,
            answer.sigs,
        )

    async def _checked(
        self,
        params: Mapping[str, ParamValue],
        method: str,
        hash_of: Callable[[MuonResponse], muon.MuonHash],
    ) -> MuonResponse:
        """Request; an answer whose fields do not parse (or, with `verification`, whose gateway
        signature does not cover the recomputed hash) is rejected like a failed gateway."""

        def validate(answer: MuonResponse) -> None:
            self._verify(hash_of(answer), answer)

        return await self.request(method, params, validate)


def _snippet(response: httpx.Response) -> str:
    return response.text[:200].replace("\n", " ")
