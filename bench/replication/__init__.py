"""Replications of published experiments (issue 7): one module per experiment, each a named suite.

`bench.suites` registers these suites, and the experiment modules build `Suite`s from
`bench.suites`: importing it first, before any experiment module, keeps that cycle
resolvable whichever module a caller imports first.
"""

import bench.suites  # noqa: F401  (must come first; see above)
