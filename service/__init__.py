"""triage: customer feedback in, prioritized tickets with SLAs out."""

import os as _os

# numpy's OpenBLAS (loaded with the language guess's model) starts a worker thread per
# core, and after each matrix product its workers spin for a while waiting for the next.
# The service's products are small and run on the event loop's thread, so the spinning
# only takes CPU: on a 16-core host fifteen workers' worth, from the broker or, in a
# container with a CPU limit, from the service's own quota (docs/performance.md#blas-threads).
# One thread, unless the operator sets the variable; it must be set before numpy is
# loaded, and every entry point imports this package first.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
