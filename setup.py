"""The compiled part of the package (everything else is in pyproject.toml).

Ten modules are compiled by Cython into C extensions: nine of the per-event path,
``service/prioritizer/_decode.pyx`` (a record in the common form decoded in one call:
the decoder's depth and duplicate-key counts, and the event built without the
validator), ``service/prioritizer/_ticket.pyx`` (a ticket's id, and the ticket's JSON
and a customer's changelog record, each written into one buffer),
``service/rules/_scan.pyx`` (the lexicon automaton and the reading of its hits, normal
forms by table, the tone and the script of a text), ``service/rules/_rules.pyx`` (which
rules fire, their outcome and evidence, an assessment in one call),
``service/rules/_langid.pyx`` (the language model of a Latin-script text),
``service/sentiment/_tokens.pyx`` (the text model's prediction and explanation),
``service/trusted.pyx`` (models and slotted records built from trusted values),
``service/kafka/_partition.pyx`` (the partition of a keyed output) and
``schemas/_rfc3339.pyx`` (the contract's timestamps), and the SLA gauges' scan of the
packed clocks, ``service/sla/_risk.pyx``. ``pip install .``
(and ``make``, through ``pip install -e``) builds them with the machine's C compiler.
See docs/performance.md#the-native-path.

The build stamps each module with a digest of its source (``SOURCE_DIGEST``), so a test
(``tests/unit/test_native_builds.py``, for every module of ``MODULES``) can tell a
checkout whose compiled module is older than its ``.pyx`` (rebuild with
``make`` or ``pip install -e .``).
"""

import hashlib
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

MODULES = {
    "service.rules._scan": "service/rules/_scan.pyx",
    "service.rules._rules": "service/rules/_rules.pyx",
    "service.sla._risk": "service/sla/_risk.pyx",
    "service.kafka._partition": "service/kafka/_partition.pyx",
    "schemas._rfc3339": "schemas/_rfc3339.pyx",
    "service.prioritizer._decode": "service/prioritizer/_decode.pyx",
    "service.prioritizer._ticket": "service/prioritizer/_ticket.pyx",
    "service.rules._langid": "service/rules/_langid.pyx",
    "service.sentiment._tokens": "service/sentiment/_tokens.pyx",
    "service.trusted": "service/trusted.pyx",
}


def source_digest(path: str) -> str:
    """The first 16 hex digits of the SHA-256 of a source file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


setup(
    ext_modules=cythonize(
        [
            Extension(
                name,
                [source],
                define_macros=[("TRIAGE_SOURCE_DIGEST", f'"{source_digest(source)}"')],
            )
            for name, source in MODULES.items()
        ],
        compiler_directives={"language_level": "3"},
    )
)
