"""Presenting records: the summary, its tables, the length study and the plots."""
