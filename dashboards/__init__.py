"""ketasim dashboards package."""
