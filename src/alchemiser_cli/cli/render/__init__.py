"""Everything the operator sees is drawn here; the only package that uses Rich.

- :mod:`.terminal`: the facade commands print through (TTY, plain lines, JSON);
- :mod:`.board`: the live run board; :mod:`.lines`: the plain one-line events;
- :mod:`.tables`: plan, check and other tables, narrow by default, ``--wide`` for all;
- :mod:`.checklist`, :mod:`.metrics`, :mod:`.audit`: verify, metrics and show;
- :mod:`.jsonout`: the JSON contract; :mod:`.formats`: how numbers read.

Submodules are imported where used, so importing this package costs nothing
(``alch --help`` must not load Rich).
"""
