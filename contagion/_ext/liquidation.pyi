"""Type stubs of the compiled liquidation kernels (see ``ext/liquidation.pyx``)."""

import numpy as np
import numpy.typing as npt

BUILD_DEBUG: bool

def liquidation_prices(collateral: npt.NDArray[np.float64], debt: npt.NDArray[np.float64],
                       liquidation_threshold: float, out: npt.NDArray[np.float64]) -> None: ...
def health_factors(collateral: npt.NDArray[np.float64], debt: npt.NDArray[np.float64], price_ratio: float,
                   liquidation_threshold: float, out: npt.NDArray[np.float64]) -> None: ...
def count_above(keys_desc: npt.NDArray[np.float64], price_ratio: float) -> int: ...
def merge_update(keys: npt.NDArray[np.float64], ids: npt.NDArray[np.int64], removed: npt.NDArray[np.uint8],
                 new_keys: npt.NDArray[np.float64], new_ids: npt.NDArray[np.int64],
                 out_keys: npt.NDArray[np.float64], out_ids: npt.NDArray[np.int64]) -> int: ...
def seize(request: float, collateral: float, debt: float, price_ratio: float, liquidation_threshold: float,
          close_factor: float, full_close_hf: float, bonus: float) -> tuple[float, float]: ...
def seize_batch(request: npt.NDArray[np.float64], collateral: npt.NDArray[np.float64],
                debt: npt.NDArray[np.float64], price_ratio: float, liquidation_threshold: float,
                close_factor: float, full_close_hf: float, bonus: float, repay: npt.NDArray[np.float64],
                seized: npt.NDArray[np.float64]) -> None: ...
def mm_health_factors(ids: npt.NDArray[np.int64], coll_ptr: npt.NDArray[np.int64], coll_asset: npt.NDArray[np.int64],
                      coll_amount: npt.NDArray[np.float64], debt_ptr: npt.NDArray[np.int64],
                      debt_asset: npt.NDArray[np.int64], debt_amount: npt.NDArray[np.float64],
                      emode: npt.NDArray[np.int64], prices: npt.NDArray[np.float64],
                      lt_table: npt.NDArray[np.float64], out: npt.NDArray[np.float64]) -> None: ...
def mm_update(ids: npt.NDArray[np.int64], coll_ptr: npt.NDArray[np.int64], coll_asset: npt.NDArray[np.int64],
              coll_amount: npt.NDArray[np.float64], debt_ptr: npt.NDArray[np.int64],
              debt_asset: npt.NDArray[np.int64], debt_amount: npt.NDArray[np.float64],
              emode: npt.NDArray[np.int64], prices: npt.NDArray[np.float64], lt_table: npt.NDArray[np.float64],
              num: npt.NDArray[np.float64], den: npt.NDArray[np.float64], hf: npt.NDArray[np.float64],
              flags: npt.NDArray[np.uint8], entered: npt.NDArray[np.int64]) -> int: ...
def mm_reprice(coll_entries: npt.NDArray[np.int64], coll_owner: npt.NDArray[np.int64],
               coll_amount: npt.NDArray[np.float64], debt_entries: npt.NDArray[np.int64],
               debt_owner: npt.NDArray[np.int64], debt_amount: npt.NDArray[np.float64],
               holders: npt.NDArray[np.int64], emode: npt.NDArray[np.int64], lt_table: npt.NDArray[np.float64],
               n_assets: int, asset: int, delta: float, num: npt.NDArray[np.float64],
               den: npt.NDArray[np.float64], hf: npt.NDArray[np.float64], flags: npt.NDArray[np.uint8],
               entered: npt.NDArray[np.int64]) -> int: ...
