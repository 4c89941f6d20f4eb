"""Price oracles (the public names of :mod:`contagion.markets.oracles`, importable from here too)."""

from contagion.markets.oracles import (  # noqa: F401
    ORACLE_CLASSES,
    TRANSMITTER_FUNDING,
    Feed,
    FixedOracle,
    MedianOracle,
    OracleUpdate,
    OsmOracle,
    OsmValue,
    PullOracle,
    PushOracle,
    SignedPrice,
    SourceSampler,
    SpotOracle,
    TwapOracle,
    build_order,
    make_oracle,
    oracle_inputs,
)
from contagion.markets.oracles import __all__  # noqa: F401
