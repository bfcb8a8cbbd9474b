"""Reading experiments back: listings, queries, records, history, diffs and export archives."""
