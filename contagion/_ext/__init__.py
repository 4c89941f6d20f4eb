"""Compiled kernels (built from ``ext/*.pyx``). Import them through :mod:`contagion.kernels`."""
