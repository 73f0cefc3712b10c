"""A client of the Snap Store's public API (v2), stdlib only: what ``snap find``,
``snap download`` and store installs ask the store."""
