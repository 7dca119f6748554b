"""The builtin strategies (``--strategy taker|threshold|hedger``). Each file is written as a plug-in
would be: a copy of one, loaded by path (``--strategy my_taker.py``), is a template for your own."""
