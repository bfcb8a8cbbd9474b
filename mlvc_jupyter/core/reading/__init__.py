"""Reading experiments back: listings, queries, records, history and diffs."""
