"""Headline metrics of a run, computed from its tables and manifest only (so saved runs agree).

Definitions (USD means the quote unit of the price sources, a stablecoin at $1 in the shipped
scenarios):

``liquidations``, ``liquidated_debt_usd``, ``liquidated_collateral_usd``
    Count, repaid debt and seized collateral (at the oracle price) of all liquidations.
``bad_debt_usd`` and ``bad_debt_usd.<protocol>``
    Shortfall ``sum(max(0, debt - collateral value))`` at the protocols' oracle prices at the end.
``drop.exogenous.<venue>``, ``drop.venue.<venue>``, ``drop.pool.<pool>``
    Largest fall from the starting price: ``1 - low / start`` of the exogenous path, of the
    venue's mid price, and of the pool price (sampled each block).
``amplification.<pool>``
    ``drop.pool / drop.exogenous`` against the venue trading the same pair: above 1, the
    market fell further than the shock alone would have taken it.
``cascade_depth``
    Highest liquidation generation (see :mod:`contagion.engine.cascade`).
``induced_share``
    Share of seized value in induced liquidations (caused by earlier liquidations' sales).
``cascade_only_positions``, ``cascade_only_share``
    Liquidated positions whose initial liquidation price is at or below the lowest exogenous
    price of the collateral (the shock alone would never have made them liquidatable), and
    their share of seized value.
``contagion_coefficient``
    Seized value of induced liquidations divided by that of first-generation ones: liquidations
    caused per unit of liquidation the shock caused directly.
``protocols_infected``
    Protocols with at least one liquidation.
``oracle_updates.<oracle>``, ``oracle_lag_s.<oracle>``, ``oracle_lag_max_s.<oracle>``
    For every oracle but ``fixed`` ones: answers published after genesis, and the mean and
    largest delay from observation (the time of the source prices an answer is made of) to
    publication. An OSM's delay includes its hop; a TWAP or spot answer has none (its lag shows
    in the errors below).
``oracle_error.<oracle>``, ``oracle_error_max.<oracle>``
    Push feeds: mean and largest relative gap between the on-chain answer and the median of the
    feed's sources' current prices, sampled each block.
``oracle_venue_error.<oracle>``, ``oracle_venue_error_max.<oracle>``, ``oracle_age_s.<oracle>``, ``oracle_age_max_s.<oracle>``
    From the ``oracle_lag`` table (each block, every oracle with a reference venue: the first
    venue trading its asset against its quote unit): mean and largest ``|answer / venue mid - 1|``,
    and mean and largest age of the answer (see :mod:`contagion.markets.oracles.base`).
``stale_reverts.<protocol>``
    Liquidation transactions that reverted because a price the protocol reads was stale
    (``max_oracle_age``, or a pull oracle's ``max_age``).
``attacks``, ``attack_profit_usd``, ``attack_liquidations``, ``attacks_failed``
    Oracle-manipulation attacks executed, their total profit net of gas (USD at the prices before
    each attack), the liquidations they made, and attacks sent that reverted or were dropped.
Per protocol family, where losses went (debt-asset units unless named USD):
``auction_shortfall.<maker>``, ``auction_recovery.<maker>``, ``debt_auctions.<maker>``, ``governance_minted.<maker>``
    Collateral auctions (flip, clip): the sum over auctions of ``max(0, due - raised)``, and
    raised / due over all of them; debt auctions started and governance tokens they minted.
``insurance_fund_drawdown.<perps>``, ``adl.<perps>``
    Fall of the insurance fund from its start to its lowest; auto-deleveraging fills.
``reserves_drawdown.<comet>``, ``absorbs.<comet>``, ``collateral_bought_base.<comet>``
    Fall of the reserves from their start to their lowest; accounts absorbed; base paid by
    ``buyCollateral``.
``debt_offset.<liquity>``, ``debt_redistributed.<liquity>``
    Debt cancelled against the stability pool, and debt redistributed to the other troves.
``gas_usd.<agent type>``, ``reverted_tx``
    Gas paid by each kind of agent; transactions that reverted.
``inclusion_delay_s.<agent type>``, ``inclusion_delay_max_s.<agent type>``
    Mean and largest time from submission to inclusion of each kind of agent's transactions.
``base_fee_max_gwei.<chain>``, ``block_fullness.<chain>``
    Highest base fee (EIP-1559 chains) and mean share of the gas limit used per block.
Indicators at time 0, with ``near = 10 %``, of the single-pair ``lending`` books (NaN without one):
``threshold_proximity``
    Share of debt in positions within ``near`` of liquidation (health factor < 1.1).
``margin_to_liquidity``
    Collateral value of those positions divided by the value held by the pools they are
    liquidated into (both sides).
``liquidity_depth_ratio``
    Collateral those pools absorb before their price falls by ``near``, divided by the collateral
    that liquidations would seize (close factor and bonus) from positions that become liquidatable
    within a ``near`` fall. Below 1, a ``near`` fall brings more forced sales than a ``near`` move
    of the pools can absorb.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["summarize", "NEAR"]

NEAR = 0.10


def _drop(series: pd.Series) -> float:
    if series.empty:
        return math.nan
    start = float(series.iloc[0])
    return 1.0 - float(series.min()) / start if start > 0 else math.nan


def summarize(frames: dict[str, pd.DataFrame], manifest: dict[str, Any]) -> pd.Series:
    """The summary row of a run (see the module docstring for every field)."""
    scn = manifest["scenario"]
    out: dict[str, Any] = {"scenario": scn["name"], "seed": manifest["seed"], "until_s": manifest["until"]}
    liq = frames["liquidations"]
    out["liquidations"] = len(liq)
    out["liquidated_debt_usd"] = float(liq["repaid_usd"].sum())
    out["liquidated_collateral_usd"] = float(liq["seized_usd"].sum())

    protocols = frames["protocols"]
    bad = {}
    for name in scn["protocols"]:
        rows = protocols[protocols["protocol"] == name]
        bad[name] = float(rows["bad_debt"].iloc[-1]) if len(rows) else 0.0
    out["bad_debt_usd"] = float(sum(bad.values()))
    for name, value in bad.items():
        out[f"bad_debt_usd.{name}"] = value

    prices = frames["prices"]
    exo_drop = {}
    for name, venue in scn["venues"].items():
        rows = prices[(prices["source"] == name) & (prices["source_kind"] == "venue")]
        low = manifest.get("exogenous_low", {}).get(name)
        start = float(rows["exogenous"].iloc[0]) if len(rows) else math.nan
        exo_drop[name] = 1.0 - low / start if low is not None and start > 0 else _drop(rows["exogenous"])
        out[f"drop.exogenous.{name}"] = exo_drop[name]
        out[f"drop.venue.{name}"] = _drop(rows["price"])
    for name, pool in scn["pools"].items():
        rows = prices[(prices["source"] == name) & (prices["source_kind"] == "pool")]
        out[f"drop.pool.{name}"] = drop = _drop(rows["price"])
        pair = set(pool["assets"])
        for vname, venue in scn["venues"].items():
            if {venue["asset"], venue["quote"]} == pair and exo_drop[vname] > 0:
                out[f"amplification.{name}"] = drop / exo_drop[vname]
                break

    gens = liq["generation"]
    out["cascade_depth"] = int(gens.max()) if len(liq) else 0
    seized = liq["seized_usd"]
    total = float(seized.sum())
    induced = float(seized[liq["induced"]].sum())
    first = float(seized[gens == 1].sum())
    out["induced_share"] = induced / total if total > 0 else 0.0
    out["contagion_coefficient"] = induced / first if first > 0 else 0.0
    out["protocols_infected"] = int(liq["protocol"].nunique())
    only = _cascade_only(frames, manifest)
    out["cascade_only_positions"] = int(liq.loc[only, ["protocol", "position"]].drop_duplicates().shape[0])
    out["cascade_only_share"] = float(seized[only].sum()) / total if total > 0 else 0.0

    out.update(_oracle_timing(frames, scn))
    for name, oracle in scn["oracles"].items():
        if oracle["kind"] != "push":
            continue
        answer = prices[(prices["source"] == name) & (prices["source_kind"] == "oracle")]
        sources = prices[prices["source"].isin(oracle["sources"])]
        ref = sources.groupby("time")["price"].median()
        joined = answer.set_index("time")["price"].to_frame("answer").join(ref.rename("ref"), how="inner")
        err = (joined["answer"] / joined["ref"] - 1.0).abs()
        out[f"oracle_error.{name}"] = float(err.mean()) if len(err) else math.nan
        out[f"oracle_error_max.{name}"] = float(err.max()) if len(err) else math.nan

    tx = frames["transactions"]
    for agent_type, fee in tx.groupby("agent_type")["fee_usd"].sum().items():
        out[f"gas_usd.{agent_type}"] = float(fee)
    out["reverted_tx"] = int((tx["status"] == "reverted").sum())
    landed = tx[tx["status"].isin(["included", "reverted"])]
    for agent_type, delays in landed.groupby("agent_type")["inclusion_delay"]:
        out[f"inclusion_delay_s.{agent_type}"] = float(delays.mean())
        out[f"inclusion_delay_max_s.{agent_type}"] = float(delays.max())
    for chain, rows in frames["blocks"].groupby("chain"):
        if (rows["base_fee"] > 0).any():
            out[f"base_fee_max_gwei.{chain}"] = float(rows["base_fee"].max())
        out[f"block_fullness.{chain}"] = float((rows["gas_used"] / rows["gas_limit"]).mean())
    reasons = tx["revert_reason"].fillna("")
    for name, proto in scn["protocols"].items():
        if proto.get("max_oracle_age") is not None or any(
                scn["oracles"].get(o, {}).get("kind") == "pull" for o in proto.get("oracles", {}).values()):
            out[f"stale_reverts.{name}"] = int(reasons.str.startswith(f"{name}: stale").sum())
    attacks = frames.get("attacks")
    if attacks is not None and any(a["kind"] == "adversary" for a in scn["agents"].values()):
        done = attacks[attacks["status"] == "included"]
        out["attacks"] = len(done)
        out["attack_profit_usd"] = float(attacks["profit_usd"].sum())
        out["attack_liquidations"] = int(done["liquidations"].sum())
        out["attacks_failed"] = int((attacks["status"] != "included").sum())

    out.update(_family_metrics(frames, scn))
    out.update(_indicators(frames, scn, manifest["initial_price_ratio"], manifest["initial_pools"]))
    return pd.Series(out, name=scn["name"], dtype=object)


def _rows(frames: dict[str, pd.DataFrame], table: str, protocol: str) -> pd.DataFrame:
    frame = frames.get(table)
    if frame is None or frame.empty:
        return pd.DataFrame()
    return frame[frame["protocol"] == protocol]


def _family_metrics(frames: dict[str, pd.DataFrame], scn: dict) -> dict[str, float]:
    """Where the losses of protocols that do not sell collateral at a fixed spread went (see the
    module docstring)."""
    out: dict[str, float] = {}
    for name, proto in scn["protocols"].items():
        kind = proto["type"]
        if kind == "maker":
            auctions = _rows(frames, "auctions", name)
            sales = auctions[auctions["house"].isin(["flip", "clip"])] if len(auctions) else auctions
            due = paid = 0.0
            if len(sales):
                per = sales.groupby("auction_id").agg(due=("due", "first"), paid=("paid", "sum"))
                due, paid = float(per["due"].sum()), float(per["paid"].sum())
                out[f"auction_shortfall.{name}"] = float((per["due"] - per["paid"]).clip(lower=0).sum())
            else:
                out[f"auction_shortfall.{name}"] = 0.0
            out[f"auction_recovery.{name}"] = paid / due if due > 0 else math.nan
            vow = _rows(frames, "vow", name)
            out[f"debt_auctions.{name}"] = int(vow["debt_auctions"].iloc[-1]) if len(vow) else 0
            out[f"governance_minted.{name}"] = float(vow["governance_minted"].iloc[-1]) if len(vow) else 0.0
        elif kind == "perps":
            state = _rows(frames, "perps_state", name)
            fund = state["insurance_fund"] if len(state) else pd.Series(dtype=float)
            out[f"insurance_fund_drawdown.{name}"] = float(fund.iloc[0] - fund.min()) if len(fund) else 0.0
            out[f"adl.{name}"] = len(_rows(frames, "adl", name))
        elif kind == "comet":
            state = _rows(frames, "comet_state", name)
            reserves = state["reserves"] if len(state) else pd.Series(dtype=float)
            out[f"reserves_drawdown.{name}"] = float(reserves.iloc[0] - reserves.min()) if len(reserves) else 0.0
            out[f"absorbs.{name}"] = len(_rows(frames, "absorbs", name))
            buys = _rows(frames, "collateral_buys", name)
            out[f"collateral_bought_base.{name}"] = float(buys["base_paid"].sum()) if len(buys) else 0.0
        elif kind == "liquity":
            offsets = _rows(frames, "sp_offsets", name)
            spread = _rows(frames, "redistributions", name)
            out[f"debt_offset.{name}"] = float(offsets["debt_offset"].sum()) if len(offsets) else 0.0
            out[f"debt_redistributed.{name}"] = float(spread["debt"].sum()) if len(spread) else 0.0
    return out


def _oracle_timing(frames: dict[str, pd.DataFrame], scn: dict) -> dict[str, float]:
    """Publication delays (``oracle_updates``) and errors / ages against the reference venue
    (``oracle_lag``) of every oracle that is not ``fixed``."""
    out: dict[str, float] = {}
    updates = frames["oracle_updates"]
    lag = frames.get("oracle_lag")
    for name, oracle in scn["oracles"].items():
        if oracle["kind"] == "fixed":
            continue
        published = updates[(updates["oracle"] == name) & (updates["reason"] != "genesis")]
        delay = published["lag"]
        out[f"oracle_updates.{name}"] = len(published)
        out[f"oracle_lag_s.{name}"] = float(delay.mean()) if len(delay) else math.nan
        out[f"oracle_lag_max_s.{name}"] = float(delay.max()) if len(delay) else math.nan
        rows = lag[lag["oracle"] == name] if lag is not None else lag
        if rows is None or rows.empty:
            continue
        err = rows["error"].abs()
        out[f"oracle_venue_error.{name}"] = float(err.mean())
        out[f"oracle_venue_error_max.{name}"] = float(err.max())
        out[f"oracle_age_s.{name}"] = float(rows["age"].mean())
        out[f"oracle_age_max_s.{name}"] = float(rows["age"].max())
    return out


def _debt_usd(frames: dict[str, pd.DataFrame], proto: dict) -> float:
    """USD per unit of a protocol's debt asset, as its oracle priced it at the first block (1 if unknown)."""
    liq = frames["liquidations"]
    rows = liq[liq["debt_asset"] == proto["debt"]]
    if len(rows) and rows["repaid"].iloc[0] > 0:
        return float(rows["repaid_usd"].iloc[0] / rows["repaid"].iloc[0])
    return 1.0


def _cascade_only(frames: dict[str, pd.DataFrame], manifest: dict[str, Any]) -> pd.Series:
    """Per liquidation: was the position out of reach of the exogenous shock alone?"""
    scn = manifest["scenario"]
    liq = frames["liquidations"]
    positions = frames["positions"]
    initial = positions[positions["snapshot"] == "initial"].set_index(["protocol", "position"])
    flags = pd.Series(False, index=liq.index)
    for name, proto in scn["protocols"].items():
        if proto["type"] != "lending":
            continue
        low = _exogenous_low_ratio(proto, scn, manifest)
        if not np.isfinite(low):
            continue
        rows = liq["protocol"] == name
        keys = initial["liquidation_price"].reindex(
            pd.MultiIndex.from_arrays([liq.loc[rows, "protocol"], liq.loc[rows, "position"]]))
        flags[rows] = keys.to_numpy() <= low
    return flags


def _exogenous_low_ratio(proto: dict, scn: dict, manifest: dict[str, Any]) -> float:
    """Lowest exogenous price of a protocol's collateral in its debt asset (NaN if unknown)."""
    for name, venue in scn["venues"].items():
        if (venue["asset"], venue["quote"]) == (proto["collateral"], proto["debt"]):
            return manifest["exogenous_low"][name]
    return math.nan


def _indicators(frames: dict[str, pd.DataFrame], scn: dict, initial_ratio: dict[str, float],
                pools: dict[str, dict]) -> dict[str, float]:
    positions = frames["positions"]
    initial = positions[positions["snapshot"] == "initial"]
    debt_total = near_debt = near_value = seize_near = depth = pool_value = 0.0
    for name, proto in scn["protocols"].items():
        book = initial[initial["protocol"] == name]
        if book.empty or proto["type"] != "lending":   # indicators of single-pair fixed-spread books
            continue
        hf = book["health_factor"].to_numpy()
        debt = book["debt"].to_numpy()
        coll = book["collateral"].to_numpy()
        ratio = initial_ratio[name]
        near = hf < 1.0 + NEAR
        debt_total += float(debt.sum())
        near_debt += float(debt[near].sum())
        near_value += float((coll[near] * ratio).sum()) * _debt_usd(frames, proto)
        # collateral seized if every position liquidatable within a NEAR fall is liquidated once
        fall = hf < 1.0 / (1.0 - NEAR)
        price_after = ratio * (1.0 - NEAR)
        repay = proto["close_factor"] * debt[fall]
        seize = np.minimum(repay * (1.0 + proto["liquidation_bonus"]) / price_after, coll[fall])
        seize_near += float(seize.sum())
        for pool_name in proto["liquidates_into"]:
            facts = pools[pool_name]
            depth += facts["depth"][proto["collateral"]]
            pool_value += facts["value_usd"]
    return {
        "threshold_proximity": near_debt / debt_total if debt_total > 0 else math.nan,
        "margin_to_liquidity": near_value / pool_value if pool_value > 0 else math.nan,
        # no forced sale within a NEAR fall: infinite depth ratio; no single-pair book at all: NaN
        "liquidity_depth_ratio": depth / seize_near if seize_near > 0 else math.inf if debt_total > 0 else math.nan,
    }
