"""Extension wiring for contagion's compiled kernels.

Everything else (metadata, dependencies, tool configuration) lives in ``pyproject.toml``.

``ext/<name>.pyx`` is compiled into ``contagion._ext.<name>``. The memoryview runtime that
Cython would otherwise copy into every module is shared through one module,
``contagion._ext._cyutility``.

Environment switches
--------------------
CONTAGION_CYTHON_DEBUG=1
    Build with bounds, initialization and wraparound checks and ``CONTAGION_DEBUG`` defined
    (each kernel module then reports ``BUILD_DEBUG = True``). Debug builds use their own
    build folder, ``build/debug``, so a release install never picks up a stale debug object.
"""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("CONTAGION_CYTHON_DEBUG", "") == "1"
FLAVOUR = "debug" if DEBUG else "release"
BUILD_ROOT = os.path.join("build", FLAVOUR)
KERNELS = ["amm", "liquidation", "auctions"]
SHARED = "contagion._ext._cyutility"

compile_args = ["-O0", "-g"] if DEBUG else ["-O3"]
macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"), ("CONTAGION_DEBUG", "1" if DEBUG else "0")]

extensions = [
    Extension(
        f"contagion._ext.{name}",
        [f"ext/{name}.pyx"],
        define_macros=macros,
        extra_compile_args=compile_args,
    )
    for name in KERNELS
]
# Cython generates this module's source itself (into the build folder).
extensions.append(Extension(SHARED, [SHARED.replace(".", "/") + ".c"], extra_compile_args=compile_args))


class BuildExt(build_ext):
    """Place temporary objects under ``build/<flavour>`` unless told otherwise."""

    def initialize_options(self):
        super().initialize_options()
        self.build_temp = os.path.join(BUILD_ROOT, "temp")


setup(
    ext_modules=cythonize(
        extensions,
        build_dir=os.path.join(BUILD_ROOT, "cython"),
        include_path=["ext"],
        shared_utility_qualified_name=SHARED,
        compiler_directives={
            "language_level": 3,
            "boundscheck": DEBUG,
            "initializedcheck": DEBUG,
            "wraparound": False,
            "cdivision": True,
            "embedsignature": True,
        },
        quiet=True,
    ),
    cmdclass={"build_ext": BuildExt},
    options={"build": {"build_base": BUILD_ROOT}},
)
