"""Interfaces: which plugs are connected, and what a connection changes in the sandbox.

:mod:`.registry` defines each interface in one place, :mod:`.connect` decides connections
(auto-connect at install, ``snap connect``/``disconnect``), :mod:`.effects` turns an app's
connected plugs into sandbox operations.  All pure: the daemon stores the connections in
its state and the planner reads them.
"""
