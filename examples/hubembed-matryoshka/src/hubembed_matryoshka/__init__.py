"""hubembed-matryoshka: the `examples.matryoshka.v1` loss plugin for hubembed (an external plugin package)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hubembed-matryoshka")
except PackageNotFoundError:  # imported from a source tree that is not installed
    __version__ = "0.0.0"
