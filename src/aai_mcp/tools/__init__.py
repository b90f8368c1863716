"""Running tools: handlers, upstream forwarding, views and results."""
