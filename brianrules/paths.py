"""Where brianrules keeps what it computes once: the root of the cache.

At the bottom of the package: every layer may use it (the build cache of
compiled programs, Brian2's exact solutions, the built-in data sets)."""

import os


def cache_dir():
    """The folder of compiled programs: ``$BRIANRULES_CACHE/build``, by
    default ``~/.cache/brianrules/build`` (``XDG_CACHE_HOME`` respected);
    its parent holds the other caches."""
    base = os.environ.get("BRIANRULES_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "brianrules"
    )
    return os.path.join(base, "build")
