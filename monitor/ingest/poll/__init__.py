"""Polling a source: fetch its body, read its entries, make and store its new articles, and
record what the poll did to its schedule."""
