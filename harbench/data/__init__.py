"""Data handling in the core: windowing, normalisation, protocols, caching and safe decoding."""
