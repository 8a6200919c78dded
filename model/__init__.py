"""ketasim model package."""
