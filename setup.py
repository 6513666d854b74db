"""The compiled part of the package (everything else is in pyproject.toml).

``service/rules/_scan.pyx`` — the per-event loop of lexicon matching — is compiled by
Cython into a C extension; ``pip install .`` (and ``make``, through ``pip install -e``)
builds it with the machine's C compiler. See docs/performance.md#the-native-path.

The build stamps the module with a digest of its source (``_scan.SOURCE_DIGEST``), so a
test can tell a checkout whose compiled module is older than its ``.pyx`` (rebuild with
``make`` or ``pip install -e .``).
"""

import hashlib
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

SCAN = "service/rules/_scan.pyx"


def source_digest(path: str) -> str:
    """The first 16 hex digits of the SHA-256 of a source file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


setup(
    ext_modules=cythonize(
        [
            Extension(
                "service.rules._scan",
                [SCAN],
                define_macros=[("TRIAGE_SOURCE_DIGEST", f'"{source_digest(SCAN)}"')],
            )
        ],
        compiler_directives={"language_level": "3"},
    )
)
