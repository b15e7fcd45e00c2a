"""stablebrowse_async: the async-first Python SDK for the StableBrowse API."""

from ._version import __version__

__all__ = ["__version__"]
