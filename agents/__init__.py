"""ketasim agents package."""
