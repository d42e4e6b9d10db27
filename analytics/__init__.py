"""Receivables analytics: the data contract, the store, imports and every figure the app shows.

This package never imports Streamlit: everything a page shows is computed here, callable from a
test or the command line.
"""
