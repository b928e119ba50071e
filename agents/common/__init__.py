"""Mechanics shared by the zoo's own algorithms."""
