"""Configuration: one typed settings model, and how each field is named in flags and the environment."""
