"""snapd's assertions: the signed statements that make a snap file trustworthy.

``format`` reads and writes the text format, ``openpgp`` the key and signature packets
inside it, ``verify`` checks signatures and snapd's consistency rules, ``trust`` holds
the built-in root of trust and ``db`` the assertions the user acknowledged.
"""
