"""huren: the Sichuan–Chongqing credential mutual-recognition service."""

import os

# polars allocates with its own jemalloc, which polars sets to keep freed pages for half a second (a second
# more as "muzzy" pages) before giving them back. An import frees a chunk's frames every few milliseconds, so
# the kept pages stood at about 60 MB of the process's peak memory (1M rows validated: 332 MB, 268 MB with
# this; bench/RESULTS.md). polars adds this variable's settings after its own, and jemalloc reads them once,
# when polars is loaded, which is after this package: set here, it holds for every entry point. An operator's
# own setting wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
# polars' thread pool, one thread a core by default. An import's polars work is a few operations per chunk of
# 5,000 rows, with the database busy on another core: one thread did it as fast, and took 20 MB off the peak
# (bench/RESULTS.md). polars reads this when it is loaded, as above.
os.environ.setdefault("POLARS_MAX_THREADS", "1")
