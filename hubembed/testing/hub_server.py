"""The old home of LocalHub, kept for tests that import it from here: the server is `hubembed.localhub`."""

from hubembed.localhub import DEFAULT_GITATTRIBUTES, LFS_THRESHOLD, LocalHub

__all__ = ["DEFAULT_GITATTRIBUTES", "LFS_THRESHOLD", "LocalHub"]
