"""Plain-Python/numpy reference implementations of the compiled kernels.

Each module here is the executable specification of the compiled module of the same name in
``contagion._ext``: same functions, same signatures, same results (up to floating-point
rounding). Parity tests compare the two; ``CONTAGION_PURE_PYTHON=1`` runs the package on these.
"""
