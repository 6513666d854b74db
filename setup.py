"""The compiled part of the package (everything else is in pyproject.toml).

``service/rules/_scan.pyx`` — the per-event loop of lexicon matching — is compiled by
Cython into a C extension; ``pip install .`` (and ``make``, through ``pip install -e``)
builds it with the machine's C compiler. See docs/performance.md#the-native-path.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension("service.rules._scan", ["service/rules/_scan.pyx"])],
        compiler_directives={"language_level": "3"},
    )
)
