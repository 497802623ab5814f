"""FoleyStudio: synchronized Foley generation and authoring."""

__version__ = "0.1.0"
