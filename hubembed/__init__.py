"""hubembed: create text embedding models from plugins and share them on the Hugging Face Hub.

Importing this package is cheap: torch and sentence-transformers are imported only where a model is used.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hubembed")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
