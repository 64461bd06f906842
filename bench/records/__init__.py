"""The results: the record store, the record schema, the environment a record names, the one ratio."""
