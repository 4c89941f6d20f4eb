"""Type stubs of the compiled auction kernels (see ``ext/auctions.pyx``)."""

import numpy as np
import numpy.typing as npt

BUILD_DEBUG: bool

def linear_prices(top: npt.NDArray[np.float64], dur: npt.NDArray[np.float64], tau: float,
                  out: npt.NDArray[np.float64]) -> None: ...
def stairstep_prices(top: npt.NDArray[np.float64], dur: npt.NDArray[np.float64], cut: float, step: float,
                     out: npt.NDArray[np.float64]) -> None: ...
def exponential_prices(top: npt.NDArray[np.float64], dur: npt.NDArray[np.float64], cut: float,
                       out: npt.NDArray[np.float64]) -> None: ...
def redo_flags(top: npt.NDArray[np.float64], price: npt.NDArray[np.float64], dur: npt.NDArray[np.float64],
               tail: float, cusp: float, out: npt.NDArray[np.uint8]) -> None: ...
