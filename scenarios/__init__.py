"""ketasim scenarios package."""
