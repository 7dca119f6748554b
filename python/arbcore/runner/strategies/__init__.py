"""The builtin strategies (``--strategy taker|threshold|hedger``); ``examples/`` has the same files
as templates for your own plug-ins."""
