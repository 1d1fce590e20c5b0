"""The services layer: what the CLI and the pages call. No streamlit here, no SQL (the store runs queries)."""
